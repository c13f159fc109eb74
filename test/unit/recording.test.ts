/** Recording by exception (deadband, maximum interval, quality changes, steps) and the machine events' rate. */
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src-main/config/load';
import { ProfileSchema, type PlantConfig } from '../../src-main/config/schema';
import { createMemoryHistory } from '../../src-main/core/history-memory';
import { memoryLogger } from '../../src-main/core/log';
import { MACHINE_EVENT_MS, PlantCore, type MachinePoll } from '../../src-main/core/plant';
import { ExceptionFilter, recordingRule } from '../../src-main/core/recording';
import type { MachineSnapshot } from '../../src-preload/contract';
import { FakePoller } from '../helpers/fake-poller';

const T0 = Date.UTC(2026, 0, 12, 9, 0);
const S = 1000;

function filtered(deadband: number, maxIntervalS: number) {
  const recorded: [number, number | null][] = [];
  const f = new ExceptionFilter({ deadband, maxIntervalMs: maxIntervalS * S }, (t, v) => recorded.push([t, v]));
  return { f, recorded };
}

describe('recording by exception', () => {
  it('records a move beyond the deadband after the value it held, so the trend steps', () => {
    const { f, recorded } = filtered(0.5, 600);
    [20, 20.2, 20.4, 20.3, 20.9, 21.0, 21.2].forEach((v, i) => f.offer(T0 + i * S, v));
    // 20.9 is 0.9 away from 20: the 20.3 held until then is recorded first; 21.2 is 0.3 from 20.9: held.
    expect(recorded).toEqual([
      [T0, 20],
      [T0 + 3 * S, 20.3],
      [T0 + 4 * S, 20.9],
    ]);
    expect(f.held()).toEqual({ t: T0 + 6 * S, v: 21.2 });
    // Exactly the deadband is not beyond it.
    const { f: g, recorded: r2 } = filtered(1, 600);
    [10, 11, 9].forEach((v, i) => g.offer(T0 + i * S, v));
    expect(r2).toEqual([[T0, 10]]);
  });

  it('records at the maximum interval anyway, and every change of quality at once', () => {
    const { f, recorded } = filtered(5, 10);
    for (let i = 0; i <= 25; i++) f.offer(T0 + i * S, 100 + (i % 2));
    // A flat signal costs one sample per maximum interval; the held one adds nothing then.
    expect(recorded.map(([t]) => (t - T0) / S)).toEqual([0, 10, 20]);
    f.offer(T0 + 26 * S, null);
    f.offer(T0 + 27 * S, null);
    f.offer(T0 + 28 * S, 100.5);
    f.offer(T0 + 29 * S, 100.6);
    // The value held until the gap (25 s), the gap once, the first value back.
    expect(recorded.slice(3)).toEqual([
      [T0 + 25 * S, 101],
      [T0 + 26 * S, null],
      [T0 + 28 * S, 100.5],
    ]);
    expect(f.held()).toEqual({ t: T0 + 29 * S, v: 100.6 });
  });

  it('shows the held sample as the latest point of a query, and a step where the value held', () => {
    const h = createMemoryHistory({ retentionMs: 86_400_000 });
    const w = h.series('m1', 'temp', { deadband: 1, maxIntervalMs: 600 * S });
    [50, 50.2, 50.1, 50.3, 55, 55.1].forEach((v, i) => w.append(T0 + i * S, v));
    const q = h.query('m1', 'temp', T0, T0 + 60 * S, 100);
    expect(q.t.map((t) => (t - T0) / S)).toEqual([0, 3, 4, 5]);
    expect(q.v).toEqual([50, 50.3, 55, 55.1]);
    // A chart of two points keeps room for the latest.
    expect(h.query('m1', 'temp', T0, T0 + 60 * S, 2).t.at(-1)).toBe(T0 + 5 * S);
    // Without a rule every sample is recorded (the default).
    const all = h.series('m1', 'other');
    [1, 1, 1].forEach((v, i) => all.append(T0 + i * S, v));
    expect(h.query('m1', 'other', T0, T0 + 60 * S, 100).t).toHaveLength(3);
  });

  it('takes the deadband from the profile, absolute or as a percentage of the span, and refuses what cannot work', () => {
    expect(recordingRule({ deadbandPercent: 0.5, span: { low: 0, high: 400 }, maxIntervalS: 60 })).toEqual({
      deadband: 2,
      maxIntervalMs: 60_000,
    });
    expect(recordingRule({ deadband: 0.2, maxIntervalS: 600 })).toEqual({ deadband: 0.2, maxIntervalMs: 600_000 });
    const profile = (record: unknown, type = 'uint16') =>
      ProfileSchema.safeParse({
        model: 'x',
        title: 'X',
        idealCycleTimeS: 10,
        points: [{ id: 'p', name: 'P', function: 'holding', address: 0, type, length: 4, record }],
      });
    expect(profile({ deadband: 1 }).success).toBe(true);
    expect(profile({}).data?.points[0]?.record).toEqual({ maxIntervalS: 600 });
    const issues = (r: ReturnType<typeof profile>) => r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues(profile({ deadbandPercent: 1 }))).toEqual([
      'points.0.record.span: a percentage deadband needs "span": { "low", "high" } (the engineering range it is a percentage of)',
    ]);
    expect(issues(profile({ deadband: 1, deadbandPercent: 1, span: { low: 0, high: 1 } }))).toEqual([
      'points.0.record.deadbandPercent: give either "deadband" (absolute) or "deadbandPercent", not both',
    ]);
    expect(issues(profile({ deadbandPercent: 1, span: { low: 5, high: 5 } }))).toEqual([
      'points.0.record.span.low: low must be below high',
    ]);
    expect(issues(profile({ deadband: -1 }))).toEqual(['points.0.record.deadband: must be ≥ 0']);
    expect(issues(profile({ deadband: 1 }, 'string'))).toEqual(['points.0.record: text points have no history to record']);
  });
});

describe('machine events', () => {
  let core: PlantCore | null = null;
  afterEach(async () => {
    await core?.stop();
    core = null;
  });

  function setup(): { core: PlantCore; poller: () => FakePoller; clock: { t: number; now(): number } } {
    const config: PlantConfig = resolveConfig(
      {
        plant: { name: 'Fast plant', timezone: 'UTC' },
        devices: [
          {
            id: 'im-1',
            name: 'Moulder 1',
            profile: 'builtin:im250',
            pollIntervalMs: 50,
            transport: { type: 'tcp', host: '127.0.0.1', port: 1502 },
          },
        ],
      },
      'test-config.json',
      { simulated: true },
    );
    const clock = {
      t: T0,
      now() {
        return this.t;
      },
    };
    let made: FakePoller | null = null;
    core = new PlantCore({
      config,
      clock,
      log: memoryLogger(),
      pollerFactory: (d) => (made = new FakePoller(d, T0)),
    });
    core.start();
    return { core, poller: () => made!, clock };
  }

  it('reach the UI at most ten times a second per machine, the latest always; the uplink gets every poll', async () => {
    const { core: c, poller, clock } = setup();
    const snaps: MachineSnapshot[] = [];
    const polls: MachinePoll[] = [];
    c.onMachine((s) => snaps.push(s));
    c.onPoll((p) => polls.push(p));
    // Two seconds of polls every 10 ms of the core's clock: 200 polls.
    for (let i = 0; i < 200; i++) {
      clock.t = T0 + i * 10;
      poller().emit(clock.t, 1, { 'zone1-sp': 2000 + i });
    }
    expect(polls).toHaveLength(200);
    expect(polls.at(-1)!.values['zone1-sp']?.value).toBe(2199);
    expect(snaps.length).toBeLessThanOrEqual(2000 / MACHINE_EVENT_MS + 1);
    expect(snaps.length).toBeGreaterThanOrEqual(2000 / MACHINE_EVENT_MS - 1);
    // The last poll is held back less than an interval, then sent.
    await expect.poll(() => snaps.at(-1)?.values['zone1-sp']?.value).toBe(2199);
  });
});
