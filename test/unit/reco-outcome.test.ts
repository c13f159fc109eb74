/**
 * The measured outcome of an applied recommendation, against numbers worked out by hand, and
 * the scheduler around it: measured when the window closes (also after a restart), a guard
 * breach proposing the revert, or performing it when the supplier asked and the plant allows.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  compareWindows,
  expectReached,
  guardBreached,
  windowKpis,
  type KpiPoints,
  type Sample,
  type WindowSeries,
} from '../../src-main/recommendations/outcome';
import { body, INITIAL, makePlant, sealed, T0, TECH, type RecoPlant } from './reco-fixtures';

const S = 1000;

/**
 * One sample every 10 s from t = −10 s to 200 s (k = −1…20):
 *   state   running, except idle from 150 s to 160 s (the sample at k = 15 says idle);
 *   good    500 at first; +1 at k = 1…8 (before) and at k = 11…19 except 16 (after, none while idle);
 *   scrap   20 at first; +1 at k = 9 and 10 (before) and at k = 20 (after);
 *   cycle   12 s up to k = 10, 11 s after.
 */
function series(opts: { resetAt11?: boolean; lastK?: number } = {}): WindowSeries {
  const state: Sample[] = [];
  const good: Sample[] = [];
  const scrap: Sample[] = [];
  const cycle: Sample[] = [];
  let g = 500;
  let sc = 20;
  for (let k = -1; k <= (opts.lastK ?? 20); k++) {
    const t = k * 10 * S;
    if (k >= 1 && k <= 8) g++;
    if (k === 9 || k === 10) sc++;
    if (k >= 11 && k <= 19 && k !== 16) g++;
    if (k === 20) sc++;
    if (opts.resetAt11 && k === 11) g = 100;
    state.push([t, k === 15 ? 0 : 1]);
    good.push([t, g]);
    scrap.push([t, sc]);
    cycle.push([t, k <= 10 ? 12 : 11]);
  }
  return { state, good, scrap, cycle };
}

const POINTS: KpiPoints = {
  state: { scale: 1, offset: 0, states: { '0': 'idle', '1': 'running', '2': 'fault' } },
  good: { type: 'uint32', scale: 1, offset: 0 },
  scrap: { type: 'uint32', scale: 1, offset: 0 },
  idealCycleTimeS: 10,
  maxHoldMs: 30 * S,
};

describe('KPIs of a window from history samples (hand-worked)', () => {
  it('before [0, 100 s]: running all 100 s, 8 good and 2 scrap, cycle 12 s', () => {
    const k = windowKpis(series(), POINTS, 0, 100 * S);
    // availability = 100 / 100 = 1; performance = 10 s × 10 parts / 100 s = 1; quality = 8 / 10 = 0.8;
    // oee = 10 × 8 / 100 = 0.8; throughput = 8 × 3600 / 100 = 288 /h; scrapRate = 2 / 10 = 0.2; cycleTime = 12.
    expect(k.coverage).toBe(1);
    expect(k.values.availability).toBe(1);
    expect(k.values.performance).toBe(1);
    expect(k.values.quality).toBeCloseTo(0.8, 12);
    expect(k.values.oee).toBeCloseTo(0.8, 12);
    expect(k.values.throughput).toBeCloseTo(288, 9);
    expect(k.values.scrapRate).toBeCloseTo(0.2, 12);
    expect(k.values.cycleTime).toBe(12);
  });

  it('after [100 s, 200 s]: idle 10 s, 8 good and 1 scrap, cycle 11 s', () => {
    const k = windowKpis(series(), POINTS, 100 * S, 200 * S);
    // availability = 90 / 100 = 0.9; performance = 10 × 9 / 90 = 1; quality = 8 / 9 = 0.8889;
    // oee = 10 × 8 / 100 = 0.8; throughput = 8 × 3600 / 100 = 288; scrapRate = 1 / 9 = 0.1111; cycleTime = 11.
    expect(k.coverage).toBe(1);
    expect(k.values.availability).toBeCloseTo(0.9, 12);
    expect(k.values.performance).toBeCloseTo(1, 12);
    expect(k.values.quality).toBeCloseTo(8 / 9, 12);
    expect(k.values.oee).toBeCloseTo(0.8, 12);
    expect(k.values.throughput).toBeCloseTo(288, 9);
    expect(k.values.scrapRate).toBeCloseTo(1 / 9, 12);
    expect(k.values.cycleTime).toBe(11);
  });

  it('counts a counter reset no higher than the machine could have made (the engine rule)', () => {
    // 508 → 100 at 110 s: a reset; 10 s at an ideal 10 s per part allow ceil(1 × 3) + 1 = 4 parts, not 100.
    // Then +1 at k = 12…19 except 16: 7 more. good = 11; throughput = 11 × 3600 / 100 = 396 /h.
    const k = windowKpis(series({ resetAt11: true }), POINTS, 100 * S, 200 * S);
    expect(k.values.throughput).toBeCloseTo(396, 9);
  });

  it('without a state point the machine runs wherever the counters were read', () => {
    const k = windowKpis(series(), { ...POINTS, state: undefined }, 100 * S, 200 * S);
    // No idle time any more: availability 1; performance = 10 × 9 / 100 = 0.9.
    expect(k.values.availability).toBe(1);
    expect(k.values.performance).toBeCloseTo(0.9, 12);
  });
});

describe('comparing the windows', () => {
  const b = {
    expect: { kpi: 'cycleTime' as const, change: -0.04 },
    windowS: 100,
    guards: [
      { kpi: 'availability' as const, direction: 'fall' as const, by: 0.05 },
      { kpi: 'scrapRate' as const, direction: 'rise' as const, by: 0.01 },
    ],
  };

  it('meets the expected effect and breaches the availability guard (hand-worked)', () => {
    const s = series();
    const o = compareWindows(b, windowKpis(s, POINTS, 0, 100 * S), windowKpis(s, POINTS, 100 * S, 200 * S));
    // cycleTime 12 → 11: delta −1, relative −1/12 = −0.0833, in the expected direction and ≥ 0.04 / 2: met.
    expect(o).toMatchObject({ state: 'done', windowS: 100, beforeFrom: 0, appliedAt: 100 * S, until: 200 * S, expectMet: true });
    expect(o.expected).toMatchObject({ kpi: 'cycleTime', before: 12, after: 11, delta: -1 });
    expect(o.expected!.relative).toBeCloseTo(-1 / 12, 12);
    // availability 1 → 0.9: fell by 0.1 > 0.05: breached. scrapRate 0.2 → 0.1111: fell, the good way: not breached.
    expect(o.guards.map((g) => [g.kpi, g.limit, g.breached])).toEqual([
      ['availability', 0.05, true],
      ['scrapRate', 0.01, false],
    ]);
    expect(o.guards[0]!.delta).toBeCloseTo(-0.1, 12);
    expect(o.guards[1]!.delta).toBeCloseTo(1 / 9 - 0.2, 12);
    expect(o.revertProposed).toBe(true);
    expect(o.autoReverted).toBe(false);
  });

  it('is no-data when the console saw less than half of a window, and then breaches no guard', () => {
    const s = series({ lastK: 11 });
    // The last sample (110 s) holds 30 s: the after window is seen from 100 s to 140 s, 40 % of it.
    const after = windowKpis(s, POINTS, 100 * S, 200 * S);
    expect(after.coverage).toBeCloseTo(0.4, 12);
    const o = compareWindows(b, windowKpis(s, POINTS, 0, 100 * S), after);
    expect(o.state).toBe('no-data');
    expect(o.expectMet).toBeNull();
    expect(o.guards.every((g) => !g.breached)).toBe(true);
    expect(o.revertProposed).toBe(false);
  });

  it('is no-data when the expected KPI cannot be computed', () => {
    const s = series();
    const noCounters = { ...POINTS, good: undefined, scrap: undefined };
    const o = compareWindows(
      { ...b, expect: { kpi: 'throughput', change: 0.1 } },
      windowKpis(s, noCounters, 0, 100 * S),
      windowKpis(s, noCounters, 100 * S, 200 * S),
    );
    expect(o.state).toBe('no-data');
    expect(o.expected).toMatchObject({ kpi: 'throughput', before: null, after: null });
  });

  it('judges the expected effect and guards at their edges', () => {
    expect(expectReached(-0.04, -0.02)).toBe(true);
    expect(expectReached(-0.04, -0.019)).toBe(false);
    expect(expectReached(-0.04, 0.05)).toBe(false);
    expect(expectReached(0.1, 0.06)).toBe(true);
    expect(expectReached(0.1, null)).toBeNull();
    expect(guardBreached('rise', 0.01, 0.011)).toBe(true);
    expect(guardBreached('rise', 0.01, 0.01)).toBe(false);
    expect(guardBreached('rise', 0.01, -0.5)).toBe(false);
    expect(guardBreached('fall', 0.01, -0.02)).toBe(true);
    expect(guardBreached('fall', 0.01, null)).toBe(false);
  });
});

let plants: RecoPlant[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const p of plants) {
    p.service.stop();
    await p.core.stop();
  }
  plants = [];
});

/** Drives the IM-250 as `series()` does, at T0 + k × 10 s, for k in [from, to]. */
function drive(p: RecoPlant, from: number, to: number): void {
  const s = series();
  for (let k = from; k <= to; k++) {
    const i = k + 1;
    p.clock.t = T0 + k * 10 * S;
    p.dev.emit(p.clock.t, { state: s.state[i]![1]!, good: s.good[i]![1]!, scrap: s.scrap[i]![1]!, cycle: s.cycle[i]![1]! });
  }
}

const GUARDED = {
  windowS: 100,
  expect: { kpi: 'cycleTime' as const, change: -0.04 },
  guards: [{ kpi: 'availability' as const, direction: 'fall' as const, by: 0.05 }],
  autoRevert: true,
};

/** A plant whose IM-250 ran 100 s as `series()`, then had reco-1 applied at T0 + 100 s. */
async function appliedAt100(opts: Parameters<typeof makePlant>[0] = {}): Promise<RecoPlant> {
  const p = makePlant(opts);
  plants.push(p);
  p.dev.emit(T0, { state: 1, good: 500, scrap: 20, cycle: 12 });
  expect(p.receive(sealed(p.keys, body(p.keys, GUARDED))).verdict).toBe('accepted');
  drive(p, 1, 10);
  const r = await p.service.apply(TECH, { id: 'reco-1' });
  expect(r.outcome).toMatchObject({ state: 'measuring', appliedAt: T0 + 100 * S, until: T0 + 200 * S });
  return p;
}

describe('the outcome scheduler', () => {
  it('measures when the window closes, and reverts on a guard breach when the supplier asked and the plant allows', async () => {
    // The IM-250's ideal cycle is 18 s: availability 1 → 0.9 as above (the guard is breached), cycleTime 12 → 11 (met).
    const p = await appliedAt100({ autoRevert: true });
    drive(p, 11, 20);
    await p.service.sweep();
    const r = p.service.inbox(TECH).items[0]!;
    expect(r.status).toBe('reverted');
    expect(r.outcome).toMatchObject({ state: 'done', expectMet: true, revertProposed: true, autoReverted: true });
    expect(r.outcome!.expected).toMatchObject({ before: 12, after: 11 });
    expect(r.outcome!.guards[0]).toMatchObject({ kpi: 'availability', before: 1, breached: true });
    expect(r.outcome!.guards[0]!.after).toBeCloseTo(0.9, 12);
    expect([p.dev.values['zone1-sp'], p.dev.values['zone2-sp']]).toEqual([212, 215]);
    expect(
      p.core.writes
        .log({ machineId: 'im-1' })
        .slice(0, 2)
        .map((e) => [e.user, e.pointId, e.requested]),
    ).toEqual([
      ['system', 'zone1-sp', 212],
      ['system', 'zone2-sp', 215],
    ]);
    expect(p.reporter.sent.map((x) => [x.kind, x.decision?.action ?? null, x.decision?.role ?? null])).toEqual([
      ['decision', 'apply', 'maintenance'],
      ['result', null, null],
      ['decision', 'revert', 'system'],
      ['result', null, null],
      ['outcome', null, null],
    ]);
    expect(p.reporter.sent[4]!.outcome).toEqual({
      state: 'done',
      expected: { kpi: 'cycleTime', before: 12, after: 11, relative: -1 / 12 },
      expectMet: true,
      guards: [{ kpi: 'availability', before: 1, after: r.outcome!.guards[0]!.after, breached: true }],
      revertProposed: true,
      autoReverted: true,
    });
    expect(p.audit.filter((a) => a.kind === 'reco_outcome')).toEqual([
      expect.objectContaining({
        machineId: 'im-1',
        detail: expect.objectContaining({ state: 'done', before: 12, after: 11, autoReverted: true }),
      }),
    ]);
  });

  it('only proposes the revert when the plant does not allow automatic ones', async () => {
    const p = await appliedAt100({ autoRevert: false });
    drive(p, 11, 20);
    await p.service.sweep();
    const r = p.service.inbox(TECH).items[0]!;
    expect(r.status).toBe('applied');
    expect(r.outcome).toMatchObject({ state: 'done', revertProposed: true, autoReverted: false });
    expect(p.dev.values['zone1-sp']).toBeCloseTo(214, 5);
    expect(p.reporter.sent.map((x) => x.kind)).toEqual(['decision', 'result', 'outcome']);
  });

  it('does not measure before the window has closed', async () => {
    const p = await appliedAt100();
    drive(p, 11, 19);
    await p.service.sweep();
    expect(p.service.inbox(TECH).items[0]!.outcome!.state).toBe('measuring');
  });

  it('measures after a restart what came due while the console was down', async () => {
    const p = await appliedAt100();
    drive(p, 11, 20);
    p.service.stop();
    const q = makePlant({
      db: p.db,
      keys: p.keys,
      history: p.core.history,
      t: T0 + 300 * S,
      initial: { ...INITIAL, 'zone1-sp': 214, 'zone2-sp': 218 },
    });
    plants.push(q);
    await q.service.start();
    expect(q.service.inbox(TECH).items[0]!.outcome).toMatchObject({
      state: 'done',
      expectMet: true,
      revertProposed: true,
      autoReverted: false,
    });
  });

  it('fires by its own timer when the window closes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const p = await appliedAt100();
    drive(p, 11, 20);
    await vi.advanceTimersByTimeAsync(99 * S);
    expect(p.store.get('reco-1')!.outcome!.state).toBe('measuring');
    await vi.advanceTimersByTimeAsync(2 * S);
    expect(p.store.get('reco-1')!.outcome!.state).toBe('done');
  });
});
