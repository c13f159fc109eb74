import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src-main/config/load';
import type { PlantConfig } from '../../src-main/config/schema';
import { createMemoryHistory } from '../../src-main/core/history-memory';
import { memoryLogger } from '../../src-main/core/log';
import { deriveState, MachineModel } from '../../src-main/core/machine';
import { PlantCore } from '../../src-main/core/plant';
import type { PollResult } from '../../src-main/core/types';
import { MachineDetailSchema, MachineSnapshotSchema, type Link, type PointValue } from '../../src-preload/contract';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 12, 6, 0); // the Day shift starts here

function plantConfig(): PlantConfig {
  return resolveConfig(
    {
      plant: { name: 'Test plant', timezone: 'UTC' },
      shifts: [
        { name: 'Day', start: '06:00' },
        { name: 'Night', start: '18:00' },
      ],
      kpi: { rollingWindowMin: 60 },
      devices: [{ id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 } }],
    },
    'test-config.json',
    { simulated: true },
  );
}

function link(state: Link['state'], ts: number): Link {
  return {
    state,
    since: ts,
    lastOkAt: state === 'online' ? ts : null,
    lastError: state === 'online' ? null : { code: 'MODBUS_TIMEOUT', message: 'no answer' },
    consecutiveFailures: state === 'online' ? 0 : 3,
    pollsOk: 1,
    pollsFailed: 0,
    lastPollMs: 4,
  };
}

interface PollSpec {
  state?: number;
  stateQuality?: 'good' | 'bad' | 'stale';
  good?: number;
  scrap?: number;
  cycle?: number;
  zone1?: number;
  link?: Link['state'];
}

/** A PollResult of an im250 covering every point, as the real poller emits it. */
function poll(cfg: PlantConfig, ts: number, s: PollSpec = {}): PollResult {
  const device = cfg.devices[0]!;
  const online = (s.link ?? 'online') === 'online';
  const given: Record<string, number | undefined> = { state: s.state ?? 1, good: s.good, scrap: s.scrap, cycle: s.cycle, zone1: s.zone1 };
  const values: Record<string, PointValue> = {};
  for (const p of device.profileDef.points) {
    const value = p.type === 'string' ? 'ABC' : p.type === 'bool' ? true : (given[p.id] ?? 0);
    const quality = !online ? 'stale' : p.id === 'state' ? (s.stateQuality ?? 'good') : 'good';
    values[p.id] =
      quality === 'good'
        ? { value, raw: [0], quality, ts, reason: null }
        : { value: null, raw: [], quality, ts: 0, reason: quality === 'bad' ? 'exception 2 (illegal data address)' : 'link lost' };
  }
  return { deviceId: device.id, ts, values, link: link(s.link ?? 'online', ts) };
}

function setup() {
  const cfg = plantConfig();
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const log = memoryLogger();
  const history = createMemoryHistory({ retentionMs: 12 * 60 * MIN, clock });
  const m = new MachineModel({ device: cfg.devices[0]!, config: cfg, history, clock, log });
  const feed = (ts: number, s?: PollSpec) => {
    clock.t = ts;
    m.update(poll(cfg, ts, s));
  };
  return { cfg, clock, log, history, m, feed };
}

describe('machine state', () => {
  it('maps the state point through the profile table', () => {
    const { m, feed } = setup();
    feed(T0, { state: 0 });
    expect(m.state).toBe('idle');
    feed(T0 + 1000, { state: 1 });
    expect(m.state).toBe('running');
    feed(T0 + 2000, { state: 2 });
    expect(m.state).toBe('fault');
    expect(m.snapshot().stateSince).toBe(T0 + 2000);
  });

  it('shows an unknown raw value as fault and logs it once', () => {
    const { m, feed, log } = setup();
    feed(T0, { state: 7 });
    feed(T0 + 1000, { state: 7 });
    feed(T0 + 2000, { state: 1 });
    feed(T0 + 3000, { state: 7 });
    expect(m.state).toBe('fault');
    const warnings = log.lines.filter((l) => l.level === 'warn' && l.msg.includes('state value 7'));
    expect(warnings).toHaveLength(1);
  });

  it('is offline before the first poll and whenever the link is not online', () => {
    const { m, feed, cfg } = setup();
    expect(m.state).toBe('offline');
    const before = m.snapshot();
    expect(before.link.state).toBe('connecting');
    expect(before.values['zone1']).toMatchObject({ value: null, quality: 'bad', reason: 'not polled yet' });
    expect(MachineSnapshotSchema.parse(before)).toBeTruthy();
    feed(T0, { state: 1 });
    feed(T0 + 1000, { link: 'offline' });
    expect(m.state).toBe('offline');
    expect(deriveState(cfg.devices[0]!.profileDef, link('connecting', T0), {}).state).toBe('offline');
  });

  it('treats an unreadable state point on a live link as unknown, with the reason and a warning; KPIs leave it out', () => {
    const { m, feed, log } = setup();
    feed(T0, { state: 1 });
    feed(T0 + 60_000, { stateQuality: 'bad' });
    expect(m.state).toBe('unknown');
    expect(m.snapshot().values['state']?.reason).toContain('illegal data address');
    expect(m.snapshot().stateReason).toBe('state point "state" unreadable: exception 2 (illegal data address)');
    expect(MachineSnapshotSchema.parse(m.snapshot())).toBeTruthy();
    expect(log.lines.some((l) => l.level === 'warn' && l.msg.includes('state unknown, KPIs not counted'))).toBe(true);
    // An hour of unknown counts neither as running nor as down: only the first minute was seen.
    const k = m.shiftKpis(T0 + 61 * MIN);
    expect(k.runTimeS).toBe(60);
    expect(k.downTimeS).toBe(0);
    expect(k.plannedTimeS).toBe(60);
    expect(k.offlineTimeS).toBe(60 * 60);
  });

  it('without a state point: running while the device delivers data, unknown when no point can be read', () => {
    const { cfg } = setup();
    const profile = { ...cfg.devices[0]!.profileDef };
    profile.points = profile.points.filter((p) => p.role !== 'state');
    const exception = 'illegal data address (exception 2) reading holding registers 0–9';
    const all = (quality: PointValue['quality']): Record<string, PointValue> =>
      Object.fromEntries(
        profile.points.map((p) => [
          p.id,
          { value: quality === 'good' ? 1 : null, raw: [], quality, ts: T0, reason: quality === 'good' ? null : exception },
        ]),
      );
    expect(deriveState(profile, link('online', T0), all('good')).state).toBe('running');
    // One block answered with an exception, the others not: still delivering.
    const some = { ...all('good'), [profile.points[0]!.id]: all('bad')[profile.points[0]!.id]! };
    expect(deriveState(profile, link('online', T0), some).state).toBe('running');
    expect(deriveState(profile, link('online', T0), all('bad'))).toEqual({
      state: 'unknown',
      reason: `no point could be read: ${exception}`,
    });
    expect(deriveState(profile, link('online', T0), {}).state).toBe('unknown');
    expect(deriveState(profile, link('offline', T0), all('good')).state).toBe('offline');
  });
});

describe('machine snapshot and detail', () => {
  it('carries identity, values, link and last cycle time', () => {
    const { m, feed } = setup();
    feed(T0, { state: 1, cycle: 18.4, zone1: 215.5, good: 10 });
    const s = MachineSnapshotSchema.parse(m.snapshot());
    expect(s).toMatchObject({
      id: 'im-1',
      name: 'Moulder 1',
      model: 'im250',
      modelTitle: 'Injection moulding machine IM-250',
      simulated: true,
      state: 'running',
      stateSince: T0,
      lastCycleTimeS: 18.4,
      ts: T0,
    });
    expect(s.link.state).toBe('online');
    expect(s.values['zone1']?.value).toBe(215.5);
    expect(s.values['serial']?.value).toBe('ABC');
    expect(Object.keys(s.values)).toHaveLength(18);
    feed(T0 + 1000, { link: 'offline' });
    expect(m.snapshot().lastCycleTimeS).toBeNull();
  });

  it('describes every point and the device', () => {
    const { m } = setup();
    const d = MachineDetailSchema.parse(m.detail());
    expect(d.points).toHaveLength(18);
    const byId = Object.fromEntries(d.points.map((p) => [p.id, p]));
    expect(byId['good']).toMatchObject({
      type: 'uint32',
      registers: 2,
      role: 'goodCount',
      normal: null,
      writable: null,
      sensitivity: 'sealed',
    });
    expect(byId['serial']).toMatchObject({ type: 'string', registers: 8, sensitivity: 'local' });
    expect(byId['energy']?.registers).toBe(4);
    expect(byId['zone1']?.normal).toEqual({ low: 205, high: 225 });
    expect(byId['zone1-sp']?.writable).toEqual({ min: 180, max: 240, maxStep: 5 });
    expect(d.device).toEqual({ transport: 'tcp', address: '127.0.0.1:1502', unitId: 1, pollIntervalMs: 500 });
  });
});

describe('machine KPIs from poll results', () => {
  it('feeds state time and counters into shift and rolling KPIs', () => {
    const { m, feed } = setup();
    // 60 min running at 3 parts/min (one per 20 s; ideal 18 s), then 30 min fault, polled every minute.
    // Shift (06:00–07:30): APT 3 600 s, down 1 800 s → A = 2/3; 180 good → P = 18 × 180 / 3 600 = 0.9; Q = 1.
    // Rolling 60 min (06:30–07:30): 30 min running, 30 min fault → A = 0.5; 90 good (06:31…07:00).
    let good = 1_000;
    for (let i = 0; i <= 90; i++) {
      const running = i < 60;
      if (i > 0 && i <= 60) good += 3;
      feed(T0 + i * MIN, { state: running ? 1 : 2, good, scrap: 5 });
    }
    const s = m.snapshot();
    expect(s.shift.from).toBe(T0);
    expect(s.shift.to).toBe(T0 + 90 * MIN);
    expect(s.shift.runTimeS).toBe(3_600);
    expect(s.shift.downTimeS).toBe(1_800);
    expect(s.shift.availability).toBeCloseTo(2 / 3, 12);
    expect(s.shift.goodCount).toBe(180);
    expect(s.shift.scrapCount).toBe(0);
    expect(s.shift.performance).toBeCloseTo(0.9, 12);
    expect(s.shift.quality).toBe(1);
    expect(s.rolling.from).toBe(T0 + 30 * MIN);
    expect(s.rolling.availability).toBeCloseTo(0.5, 12);
    expect(s.rolling.goodCount).toBe(90);
    const k = m.kpiSample();
    expect(k).toMatchObject({ t: T0 + 90 * MIN, goodCount: 180, quality: 1 });
  });

  it('excludes offline time and counts across the gap, through a uint32 rollover', () => {
    const { m, feed } = setup();
    const top = 2 ** 32 - 10;
    feed(T0, { state: 1, good: top });
    feed(T0 + 10 * MIN, { link: 'offline' });
    // Back after 10 min unseen; the counter rolled over: 10 to 2^32, then 20 → 30 parts.
    feed(T0 + 20 * MIN, { state: 1, good: 20 });
    feed(T0 + 30 * MIN, { state: 1, good: 20 });
    const s = m.snapshot();
    expect(s.shift.offlineTimeS).toBe(600);
    expect(s.shift.plannedTimeS).toBe(1_200);
    expect(s.shift.availability).toBe(1);
    expect(s.shift.goodCount).toBe(30);
  });

  it('records numeric values in history, one null per gap, no text', () => {
    const { m, feed, history } = setup();
    feed(T0, { zone1: 210 });
    feed(T0 + 1000, { zone1: 211 });
    feed(T0 + 2000, { link: 'offline' });
    feed(T0 + 3000, { link: 'offline' });
    feed(T0 + 4000, { zone1: 212 });
    expect(history.query('im-1', 'zone1', T0, T0 + 5000, 100)).toEqual({
      pointId: 'zone1',
      t: [T0, T0 + 1000, T0 + 2000, T0 + 4000],
      v: [210, 211, null, 212],
    });
    expect(history.query('im-1', 'door', T0, T0 + 5000, 100).v).toEqual([1, 1, null, 1]);
    expect(history.query('im-1', 'serial', T0, T0 + 5000, 100).t).toEqual([]);
    expect(m.state).toBe('running');
  });

  it('forgets what no window needs: memory stays flat over days of polling', () => {
    const { m, feed } = setup();
    let good = 0;
    for (let ts = T0; ts < T0 + 3 * 24 * 60 * MIN; ts += 5_000) {
      good += 1;
      feed(ts, { state: Math.floor(ts / (7 * MIN)) % 3 === 0 ? 0 : 1, good });
    }
    const size = m.trackerSize();
    // A 12 h shift at one part per 5 s is 8 640 deltas; nothing older than the shift is kept.
    expect(size.deltas).toBeLessThanOrEqual(12 * 720 + 720);
    expect(size.segments).toBeLessThan(250);
  });
});

describe('a machine whose poller cannot be created', () => {
  it('shows the reason in its snapshot, /healthz and link, never `connecting` with no error', async () => {
    const cfg = plantConfig();
    const device = cfg.devices[0]!;
    // A profile that bypassed the load checks (they refuse it: config.test.ts): the poller refuses to plan it.
    const points = device.profileDef.points.map((p, i) => (i === 0 ? { ...p, address: 65535, type: 'float32' as const } : p));
    const broken: PlantConfig = { ...cfg, devices: [{ ...device, profileDef: { ...device.profileDef, points } }] };
    const core = new PlantCore({ config: broken, log: memoryLogger() });
    const seen: string[] = [];
    core.onMachine((s) => seen.push(`${s.state}/${s.link.state}/${s.link.lastError?.code ?? '-'}`));
    core.start();
    await core.ready();
    const health = core.health().machines[0]!;
    expect(health.state).toBe('offline');
    expect(health.link.state).toBe('offline');
    expect(health.link.lastError).toEqual({
      code: 'PROFILE_INVALID',
      message: `not polled: Point "${points[0]!.id}" at address 65535 runs past the last Modbus address 65535`,
    });
    const snap = core.snapshot('im-1')!;
    expect(snap.stateReason).toBe(health.link.lastError!.message);
    expect(MachineSnapshotSchema.parse(snap)).toBeTruthy();
    expect(seen).toEqual(['offline/offline/PROFILE_INVALID']);
    await core.stop();
  });
});
