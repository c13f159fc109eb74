import { beforeAll, describe, expect, it } from 'vitest';
import { loadProfile, packageRoot, parseProfile } from '../../src-main/config/load';
import type { Profile } from '../../src-main/config/schema';
import { encode } from '../../src-main/modbus/codec';
import { createSimulator, mulberry32, type SimState, type Simulator } from '../../device-agent/simulator';

const T0 = Date.UTC(2026, 0, 5, 6, 0, 0);
const STEP_MS = 100;
const builtin = (model: string): Profile => loadProfile(`builtin:${model}`, packageRoot());

/** Runs `sim` for `minutes` in 100 ms steps from `fromMs`, calling `each` after every step. */
function run(sim: Simulator, fromMs: number, minutes: number, each?: (t: number) => void): number {
  const steps = Math.round((minutes * 60_000) / STEP_MS);
  let t = fromMs;
  for (let i = 0; i < steps; i++) {
    t += STEP_MS;
    sim.step(t);
    each?.(t);
  }
  return t;
}

const num = (sim: Simulator, id: string): number => sim.values()[id] as number;

interface Stats {
  goodPerRunningHour: number;
  scrapShare: number;
  faults: { code: number; seconds: number }[];
  rawStates: Set<number>;
  monotonic: boolean;
  encodeFailures: number;
  /** The fault-code point (where there is one) showed the active fault throughout. */
  faultCodeShown: boolean;
}

/** Two simulated hours of a machine, summarised. */
function twoHours(model: string, seed: number): Stats & { sim: Simulator; profile: Profile } {
  const profile = builtin(model);
  const sim = createSimulator(profile, { seed, startMs: T0 });
  const startGood = num(sim, 'good');
  const startScrap = num(sim, 'scrap');
  let prevGood = startGood;
  let prevScrap = startScrap;
  let monotonic = true;
  let runningMs = 0;
  let goodWhileRunning = 0;
  let encodeFailures = 0;
  let prevState: SimState = sim.state();
  let faultStart = 0;
  let faultCode = 0;
  let faultCodeShown = true;
  const faults: Stats['faults'] = [];
  const rawStates = new Set<number>();
  run(sim, T0, 120, (t) => {
    const v = sim.values();
    const good = v.good as number;
    const scrap = v.scrap as number;
    if (good < prevGood || scrap < prevScrap) monotonic = false;
    if (sim.state() === 'running') {
      runningMs += STEP_MS;
      goodWhileRunning += good - prevGood;
    }
    prevGood = good;
    prevScrap = scrap;
    rawStates.add(v.state as number);
    if (sim.state() === 'fault' && prevState !== 'fault') {
      faultStart = t;
      faultCode = sim.faultCode();
    }
    if (sim.state() !== 'fault' && prevState === 'fault') faults.push({ code: faultCode, seconds: (t - faultStart) / 1000 });
    if (sim.state() === 'fault' && 'fault-code' in v && v['fault-code'] !== sim.faultCode()) faultCodeShown = false;
    prevState = sim.state();
    // Sampled: every value must fit its register type.
    if (t % 60_000 === 0) {
      for (const p of profile.points) {
        try {
          encode(p, v[p.id]!);
        } catch {
          encodeFailures++;
        }
      }
    }
  });
  const made = prevGood - startGood + (prevScrap - startScrap);
  return {
    sim,
    profile,
    goodPerRunningHour: goodWhileRunning / (runningMs / 3_600_000),
    scrapShare: (prevScrap - startScrap) / made,
    faults,
    rawStates,
    monotonic,
    encodeFailures,
    faultCodeShown,
  };
}

const cache = new Map<string, ReturnType<typeof twoHours>>();
const twoHoursOnce = (model: string, seed: number): ReturnType<typeof twoHours> => {
  const key = `${model}/${seed}`;
  if (!cache.has(key)) cache.set(key, twoHours(model, seed));
  return cache.get(key)!;
};

describe('mulberry32', () => {
  it('repeats for a seed and stays in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });
});

describe('simulator', () => {
  it('is deterministic for a seed and a sequence of step times', () => {
    const profile = builtin('im250');
    const a = createSimulator(profile, { seed: 7, startMs: T0 });
    const b = createSimulator(profile, { seed: 7, startMs: T0 });
    const c = createSimulator(profile, { seed: 8, startMs: T0 });
    const seenA: unknown[] = [];
    const seenB: unknown[] = [];
    run(a, T0, 20, (t) => t % 10_000 === 0 && seenA.push(a.values()));
    run(b, T0, 20, (t) => t % 10_000 === 0 && seenB.push(b.values()));
    run(c, T0, 20);
    expect(seenA).toEqual(seenB);
    expect(c.values()).not.toEqual(a.values());
  });

  it('fills every point of every demo profile with a value of the right kind', () => {
    for (const model of ['im250', 'hp200', 'pk60']) {
      const profile = builtin(model);
      const v = createSimulator(profile, { seed: 1, startMs: T0 }).values();
      expect(Object.keys(v).sort()).toEqual(profile.points.map((p) => p.id).sort());
      for (const p of profile.points) {
        const kind = p.type === 'bool' ? 'boolean' : p.type === 'string' ? 'string' : 'number';
        expect(typeof v[p.id], `${model}.${p.id}`).toBe(kind);
        if (p.type === 'string') {
          expect((v[p.id] as string).length, `${model}.${p.id}`).toBeGreaterThan(3);
          expect((v[p.id] as string).length).toBeLessThanOrEqual((p.length ?? 1) * 2);
        }
      }
    }
  });

  describe.each([
    ['im250', 3],
    ['hp200', 5],
    ['pk60', 9],
  ])('%s over two simulated hours (seed %i)', (model, seed) => {
    let s: ReturnType<typeof twoHours>;
    let ideal: number;
    beforeAll(() => {
      s = twoHoursOnce(model, seed);
      ideal = 3600 / s.profile.idealCycleTimeS;
    });

    it('counts up monotonically at about the ideal rate while running, with a few % scrap', () => {
      expect(s.monotonic).toBe(true);
      expect(s.goodPerRunningHour).toBeGreaterThan(ideal * 0.75);
      expect(s.goodPerRunningHour).toBeLessThan(ideal * 1.25);
      expect(s.scrapShare).toBeGreaterThan(0.003);
      expect(s.scrapShare).toBeLessThan(0.06);
    });

    it('has faults that last 20–90 s and recover, and state codes from the profile table', () => {
      expect(s.faults.length).toBeGreaterThanOrEqual(1);
      expect(s.faultCodeShown).toBe(true);
      for (const f of s.faults) {
        expect(f.code).toBeGreaterThan(0);
        expect(f.seconds).toBeGreaterThanOrEqual(20);
        expect(f.seconds).toBeLessThanOrEqual(90.2);
      }
      const table = s.profile.points.find((p) => p.role === 'state')!.states!;
      for (const raw of s.rawStates) expect(Object.keys(table)).toContain(String(raw));
      expect(s.encodeFailures).toBe(0);
    });
  });

  it('uses the model-specific state codes (hp200 pressing, pk60 changeover)', () => {
    expect(twoHoursOnce('hp200', 5).rawStates).toEqual(new Set([0, 1, 2, 9]));
    expect(twoHoursOnce('pk60', 9).rawStates.has(3)).toBe(true);
  });

  it('heats towards the setpoints and stays near them', () => {
    const sim = createSimulator(builtin('im250'), { seed: 4, startMs: T0 });
    const startDev = Math.abs(num(sim, 'zone1') - num(sim, 'zone1-sp'));
    let worst = 0;
    let t = run(sim, T0, 10);
    t = run(sim, t, 60, () => {
      worst = Math.max(worst, Math.abs(num(sim, 'zone1') - num(sim, 'zone1-sp')), Math.abs(num(sim, 'zone2') - num(sim, 'zone2-sp')));
    });
    expect(startDev).toBeGreaterThan(5);
    expect(worst).toBeLessThan(2.5);
    // A new setpoint: the zone follows with a lag, not a jump.
    sim.setPoint('zone1-sp', 228);
    t = run(sim, t, 0.5);
    expect(num(sim, 'zone1')).toBeLessThan(226);
    run(sim, t, 10);
    expect(num(sim, 'zone1')).toBeGreaterThan(226.5);
    expect(num(sim, 'zone1')).toBeLessThan(229.5);
  });

  it('moves force, speed and jaw temperature towards written setpoints', () => {
    const press = createSimulator(builtin('hp200'), { seed: 2, startMs: T0 });
    press.forceState('running');
    press.setPoint('force-sp', 1850);
    run(press, T0, 1);
    expect(num(press, 'force')).toBeGreaterThan(1800);
    expect(num(press, 'force')).toBeLessThan(1900);

    const pack = createSimulator(builtin('pk60'), { seed: 2, startMs: T0 });
    pack.forceState('running');
    pack.setPoint('speed-sp', 40);
    pack.setPoint('jaw-sp', 172);
    const t = run(pack, T0, 0.5);
    expect(num(pack, 'speed')).toBeLessThan(42);
    expect(num(pack, 'speed')).toBeGreaterThan(36);
    run(pack, t, 6);
    expect(Math.abs(num(pack, 'jaw-temp') - 172)).toBeLessThan(2);
    expect(num(pack, 'cycle')).toBeGreaterThan(1.4);
  });

  it('keeps counting through the uint32 rollover', () => {
    const sim = createSimulator(builtin('pk60'), { seed: 3, startMs: T0 });
    sim.forceState('running');
    sim.setPoint('good', 2 ** 32 - 5);
    run(sim, T0, 1);
    const good = num(sim, 'good');
    expect(good).toBeGreaterThan(10);
    expect(good).toBeLessThan(100);
  });

  it('can be forced into a state and released', () => {
    const profile = builtin('im250');
    const sim = createSimulator(profile, { seed: 5, startMs: T0 });
    sim.forceState('fault');
    expect(sim.values().state).toBe(2);
    expect(sim.values()['fault-code']).not.toBe(0);
    expect(sim.values().auto).toBe(false);
    const good = num(sim, 'good');
    let t = run(sim, T0, 5);
    expect(sim.state()).toBe('fault');
    expect(num(sim, 'good')).toBe(good);
    sim.forceState('idle');
    expect(sim.values().state).toBe(0);
    expect(sim.values()['fault-code']).toBe(0);
    sim.forceState(null);
    expect(sim.state()).toBe('running');
    t = run(sim, t, 1);
    expect(num(sim, 'good') + num(sim, 'scrap')).toBeGreaterThan(good);
    // Faults that fell due while forced do not all fire on release.
    sim.forceState('running');
    t = run(sim, t, 180);
    sim.forceState(null);
    t = run(sim, t, 0.1);
    expect(sim.state()).toBe('running');
    // Switching automatic mode off stops the machine until it is switched on again.
    sim.setPoint('auto', false);
    t = run(sim, t, 1);
    expect(sim.state()).toBe('idle');
    sim.setPoint('auto', true);
    run(sim, t, 0.1);
    expect(sim.state()).toBe('running');
  });

  it('refuses unknown points and values of the wrong kind', () => {
    const sim = createSimulator(builtin('hp200'), { seed: 1, startMs: T0 });
    expect(() => sim.setPoint('nope', 1)).toThrow(/No point "nope"/);
    expect(() => sim.setPoint('force-sp', 'high')).toThrow(/takes a number/);
    expect(() => sim.setPoint('pump', 'on')).toThrow(/takes a boolean/);
    sim.setPoint('pump', 0);
    expect(sim.values().pump).toBe(false);
    // A test can pin a signal the model drives, and text is cut to what the registers hold.
    sim.setPoint('guard', false);
    expect(sim.values().guard).toBe(false);
    sim.setPoint('customer', 'A customer name far too long for ten registers');
    expect(sim.values().customer).toBe('A customer name far ');
  });

  it('runs an unknown model generically inside its normal bands', () => {
    const profile = parseProfile(
      {
        model: 'xk9',
        title: 'Mystery machine XK-9',
        idealCycleTimeS: 4,
        points: [
          {
            id: 'st',
            name: 'State',
            function: 'holding',
            address: 0,
            type: 'uint16',
            role: 'state',
            states: { '5': 'running', '6': 'fault' },
          },
          { id: 'count', name: 'Count', function: 'holding', address: 1, type: 'uint32', role: 'goodCount' },
          {
            id: 'temp',
            name: 'Temp',
            function: 'holding',
            address: 3,
            type: 'int16',
            scale: 0.1,
            role: 'process',
            normal: { low: 60, high: 70 },
          },
          { id: 'sn', name: 'Serial', function: 'holding', address: 4, type: 'string', length: 4, role: 'identity' },
          {
            id: 'sp',
            name: 'SP',
            function: 'holding',
            address: 8,
            type: 'uint16',
            role: 'setpoint',
            writable: { min: 10, max: 20, maxStep: 1 },
          },
        ],
      },
      'xk9.json',
    );
    const sim = createSimulator(profile, { seed: 1, startMs: T0 });
    const first = num(sim, 'count');
    let lo = Infinity;
    let hi = -Infinity;
    run(sim, T0, 30, () => {
      lo = Math.min(lo, num(sim, 'temp'));
      hi = Math.max(hi, num(sim, 'temp'));
      expect(sim.values().st).toBe(5);
    });
    expect(lo).toBeGreaterThanOrEqual(60);
    expect(hi).toBeLessThanOrEqual(70);
    expect(hi - lo).toBeGreaterThan(0.5);
    expect(num(sim, 'count') - first).toBeGreaterThan(30 * 15 * 0.75);
    expect(sim.values().sp).toBe(15);
    expect((sim.values().sn as string).length).toBe(8);
    sim.forceState('fault');
    expect(sim.values().st).toBe(6);
  });
});
