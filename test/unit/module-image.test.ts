/**
 * The simulated firmware image: what it may contain, and that its parameters visibly change the
 * simulated machine (the neutral tuning leaves a run exactly as without one).
 */
import { describe, expect, it } from 'vitest';
import { loadProfile, packageRoot } from '../../src-main/config/load';
import { encodeFirmwareImage, factoryImage, MAX_IMAGE_JSON_BYTES, parseFirmwareImage, tuningOf } from '../../device-agent/firmware-image';
import { createSimulator, NEUTRAL_TUNING, type SimTuning } from '../../device-agent/simulator';

const T0 = Date.UTC(2026, 0, 5, 6, 0, 0);
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe('simulated firmware image', () => {
  it('parses a complete image and fills defaults', () => {
    const img = parseFirmwareImage(
      encodeFirmwareImage({ model: 'im250', version: '1.4.2', params: { cycleTimeFactor: 0.9, scrapFactor: 2, controlGain: 1 } }),
    );
    expect(img).toMatchObject({ kind: 'plant-console/simulated-firmware/v1', model: 'im250', version: '1.4.2', selfTest: 'pass' });
    expect(tuningOf(img)).toEqual({ cycleTimeFactor: 0.9, scrapFactor: 2, controlGain: 1 });
    expect(factoryImage('pk60')).toMatchObject({ model: 'pk60', version: '1.0.0', params: NEUTRAL_TUNING, selfTest: 'pass' });
  });

  it.each([
    [
      { kind: 'plant-console/simulated-firmware/v1', model: 'im250', version: '1.0.0', params: { cycleTimeFactor: 9 } },
      /params\.cycleTimeFactor/,
    ],
    [{ kind: 'plant-console/simulated-firmware/v1', model: 'im250', version: '1.0.0', selfTest: 'maybe' }, /selfTest/],
    [{ kind: 'plant-console/simulated-firmware/v1', model: 'im250', version: '1.0.0', shell: 'rm -rf /' }, /invalid at \(root\)/],
    [{ kind: 'other', model: 'im250', version: '1.0.0' }, /invalid at kind/],
  ])('refuses %j', (doc, message) => {
    expect(() => parseFirmwareImage(enc(doc))).toThrow(message);
  });

  it('refuses bytes that are not JSON, or too many of them', () => {
    expect(() => parseFirmwareImage(new Uint8Array([0xff, 0xfe]))).toThrow(/not JSON/);
    expect(() => parseFirmwareImage(new Uint8Array(MAX_IMAGE_JSON_BYTES + 1))).toThrow(/at most 65536 bytes/);
  });
});

describe('the image tunes the simulated machine', () => {
  const profile = loadProfile('builtin:im250', packageRoot());

  /** Mean of the last cycle times sampled once a minute over two hours while running. */
  function meanCycle(tuning?: SimTuning): number {
    const sim = createSimulator(profile, { seed: 11, startMs: T0, ...(tuning ? { tuning } : {}) });
    sim.forceState('running');
    const seen: number[] = [];
    for (let t = T0; t <= T0 + 2 * 3600_000; t += 60_000) {
      sim.step(t);
      seen.push(sim.values()['cycle'] as number);
    }
    return seen.reduce((a, b) => a + b, 0) / seen.length;
  }

  it('neutral tuning runs exactly as no tuning', () => {
    const a = createSimulator(profile, { seed: 3, startMs: T0 });
    const b = createSimulator(profile, { seed: 3, startMs: T0, tuning: NEUTRAL_TUNING });
    a.step(T0 + 600_000);
    b.step(T0 + 600_000);
    expect(b.values()).toEqual(a.values());
  });

  it('a cycle-time factor slows the machine by about that factor', () => {
    const base = meanCycle();
    const slow = meanCycle({ ...NEUTRAL_TUNING, cycleTimeFactor: 1.5 });
    expect(base).toBeGreaterThan(18);
    expect(slow / base).toBeGreaterThan(1.4);
    expect(slow / base).toBeLessThan(1.6);
  });

  it('a control gain makes the barrel zones settle faster', () => {
    const zoneAfter = (gain: number): number => {
      const sim = createSimulator(profile, { seed: 5, startMs: T0, tuning: { ...NEUTRAL_TUNING, controlGain: gain } });
      sim.setPoint('zone1', 150);
      sim.step(T0 + 60_000);
      return sim.values()['zone1'] as number;
    };
    // zone1 relaxes from 150 towards its setpoint 215 with τ = 90 s (or 30 s with gain 3).
    expect(zoneAfter(1)).toBeLessThan(190);
    expect(zoneAfter(3)).toBeGreaterThan(200);
  });
});
