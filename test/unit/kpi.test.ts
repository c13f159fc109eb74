import { describe, expect, it } from 'vitest';
import {
  computeKpis,
  counterDelta,
  counterSpecFor,
  createKpiTracker,
  kpisFromTimeline,
  productionBetween,
  stateDurations,
  type StateSegment,
  plausibleReset,
} from '../../src-main/kpi/engine';
import { currentShift, shiftCalendar, zonedTimeToEpoch, zoneOffsetMs } from '../../src-main/kpi/shifts';

const H = 3_600_000;
const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 12, 6, 0); // a Monday, 06:00 UTC
const u32 = counterSpecFor('uint32');

describe('KPI definitions (ISO 22400-2)', () => {
  it('works the textbook shift: 8 h, 30 min fault, 30 min idle, 7 h running, 1300 good + 40 scrap', () => {
    // Window 8 h = 28 800 s, all of it seen: PBT = 28 800 s, APT = 7 h = 25 200 s, down = 3 600 s.
    // A   = 25 200 / 28 800             = 0.875
    // P   = 18 s × 1 340 / 25 200 s     = 24 120 / 25 200 = 0.957142…
    // Q   = 1 300 / 1 340               = 0.970149…
    // OEE = 0.875 × 0.957142 × 0.970149 = 0.8125  (= 18 × 1 300 / 28 800)
    // avg cycle = 25 200 / 1 340 = 18.806 s; throughput = 1 300 / 8 h = 162.5 /h; scrap rate = 40 / 1 340.
    const segments: StateSegment[] = [
      { state: 'running', start: T0, end: T0 + 3 * H },
      { state: 'fault', start: T0 + 3 * H, end: T0 + 3.5 * H },
      { state: 'running', start: T0 + 3.5 * H, end: T0 + 6 * H },
      { state: 'idle', start: T0 + 6 * H, end: T0 + 6.5 * H },
      { state: 'running', start: T0 + 6.5 * H, end: null },
    ];
    const k = kpisFromTimeline({
      from: T0,
      to: T0 + 8 * H,
      segments,
      good: [
        { ts: T0, value: 5_000 },
        { ts: T0 + 4 * H, value: 5_650 },
        { ts: T0 + 8 * H, value: 6_300 },
      ],
      scrap: [
        { ts: T0, value: 100 },
        { ts: T0 + 8 * H, value: 140 },
      ],
      goodSpec: u32,
      scrapSpec: u32,
      idealCycleTimeS: 18,
    });
    expect(k.plannedTimeS).toBe(28_800);
    expect(k.runTimeS).toBe(25_200);
    expect(k.downTimeS).toBe(3_600);
    expect(k.offlineTimeS).toBe(0);
    expect(k.goodCount).toBe(1_300);
    expect(k.scrapCount).toBe(40);
    expect(k.availability).toBeCloseTo(0.875, 12);
    expect(k.performance).toBeCloseTo((18 * 1340) / 25_200, 12);
    expect(k.performance).toBeCloseTo(0.957142857, 8);
    expect(k.quality).toBeCloseTo(1300 / 1340, 12);
    expect(k.oee).toBeCloseTo(0.875 * ((18 * 1340) / 25_200) * (1300 / 1340), 12);
    expect(k.oee).toBeCloseTo(0.8125, 12);
    expect(k.avgCycleTimeS).toBeCloseTo(25_200 / 1340, 12);
    expect(k.throughputPerHour).toBeCloseTo(162.5, 12);
    expect(k.scrapRate).toBeCloseTo(40 / 1340, 12);
    expect(k.idealCycleTimeS).toBe(18);
  });

  it('has no performance or quality without production, availability 0 and OEE 0 when all idle', () => {
    // 1 h idle: PBT = 3 600 s, APT = 0 → A = 0, P = ?/0 → null, Q = 0/0 → null; OEE = 18 × 0 / 3 600 = 0.
    const k = computeKpis({
      from: T0,
      to: T0 + H,
      durations: stateDurations([{ state: 'idle', start: T0, end: null }], T0, T0 + H),
      good: 0,
      scrap: 0,
      idealCycleTimeS: 18,
    });
    expect(k.availability).toBe(0);
    expect(k.performance).toBeNull();
    expect(k.quality).toBeNull();
    expect(k.oee).toBe(0);
    expect(k.avgCycleTimeS).toBeNull();
    expect(k.scrapRate).toBeNull();
    expect(k.throughputPerHour).toBe(0);
  });

  it('is all null when the machine was never seen in the window', () => {
    const k = computeKpis({ from: T0, to: T0 + H, durations: stateDurations([], T0, T0 + H), good: 0, scrap: 0, idealCycleTimeS: 18 });
    expect(k.plannedTimeS).toBe(0);
    expect(k.offlineTimeS).toBe(3_600);
    expect([k.availability, k.performance, k.quality, k.oee, k.throughputPerHour]).toEqual([null, null, null, null, null]);
  });

  it('does not cap performance: above 1 means the ideal cycle time is wrong', () => {
    // 1 h running, 300 parts at an ideal 18 s: P = 18 × 300 / 3 600 = 1.5.
    const k = computeKpis({
      from: T0,
      to: T0 + H,
      durations: { running: H, idle: 0, fault: 0, offline: 0, unknown: 0 },
      good: 300,
      scrap: 0,
      idealCycleTimeS: 18,
    });
    expect(k.performance).toBeCloseTo(1.5, 12);
  });

  it('excludes offline time from planned time and reports it', () => {
    // 1 h: 30 min running, 20 min offline, 10 min idle → PBT = 40 min = 2 400 s, A = 1 800 / 2 400 = 0.75.
    const segments: StateSegment[] = [
      { state: 'running', start: T0, end: T0 + 30 * MIN },
      { state: 'offline', start: T0 + 30 * MIN, end: T0 + 50 * MIN },
      { state: 'idle', start: T0 + 50 * MIN, end: null },
    ];
    // Counter 0 at the start, last seen 200 before the gap, 260 after it: all 260 count.
    const k = kpisFromTimeline({
      from: T0,
      to: T0 + H,
      segments,
      good: [
        { ts: T0, value: 0 },
        { ts: T0 + 29 * MIN, value: 200 },
        { ts: T0 + 50 * MIN, value: 260 },
      ],
      scrap: [],
      goodSpec: u32,
      scrapSpec: u32,
      idealCycleTimeS: 6,
    });
    expect(k.offlineTimeS).toBe(1_200);
    expect(k.plannedTimeS).toBe(2_400);
    expect(k.downTimeS).toBe(600);
    expect(k.availability).toBeCloseTo(0.75, 12);
    expect(k.goodCount).toBe(260);
    // Time no segment covers (before the console started) is offline too.
    expect(stateDurations([{ state: 'running', start: T0 + 40 * MIN, end: null }], T0, T0 + H)).toEqual({
      running: 20 * MIN,
      idle: 0,
      fault: 0,
      offline: 40 * MIN,
      unknown: 0,
    });
    // Unknown (answering, state unreadable) is left out of planned time like offline.
    const k2 = computeKpis({
      from: T0,
      to: T0 + H,
      durations: stateDurations(
        [
          { state: 'running', start: T0, end: T0 + 15 * MIN },
          { state: 'unknown', start: T0 + 15 * MIN, end: null },
        ],
        T0,
        T0 + H,
      ),
      good: 10,
      scrap: 0,
      idealCycleTimeS: 18,
    });
    expect([k2.plannedTimeS, k2.runTimeS, k2.offlineTimeS, k2.availability]).toEqual([15 * 60, 15 * 60, 45 * 60, 1]);
  });

  it('clips segments to a window that starts in the middle of one', () => {
    // running 05:00–07:00, idle from 07:00; window 06:00–08:00 → 1 h running, 1 h idle.
    const segments: StateSegment[] = [
      { state: 'running', start: T0 - H, end: T0 + H },
      { state: 'idle', start: T0 + H, end: null },
    ];
    expect(stateDurations(segments, T0, T0 + 2 * H)).toEqual({ running: H, idle: H, fault: 0, offline: 0, unknown: 0 });
    // A reading at the window start belongs to the window before: (from, to].
    const obs = [
      { ts: T0 - 10 * MIN, value: 10 },
      { ts: T0, value: 20 },
      { ts: T0 + 10 * MIN, value: 35 },
    ];
    expect(productionBetween(obs, T0, T0 + 2 * H, u32)).toBe(15);
    expect(productionBetween(obs, T0 - H, T0, u32)).toBe(10);
  });
});

describe('short windows', () => {
  it('reports performance and OEE only after 5 ideal cycles of running time', () => {
    // 17 s running at an 8 s ideal cycle, 3 parts: 141 % would be noise, not a measurement.
    const short = computeKpis({
      from: T0,
      to: T0 + 17_000,
      durations: { running: 17_000, idle: 0, fault: 0, offline: 0, unknown: 0 },
      good: 3,
      scrap: 0,
      idealCycleTimeS: 8,
    });
    expect(short.performance).toBeNull();
    expect(short.oee).toBeNull();
    expect(short.availability).toBe(1);
    expect(short.quality).toBe(1);
    // 40 s = 5 cycles: now it counts (5 parts → 100 %).
    const enough = computeKpis({
      from: T0,
      to: T0 + 40_000,
      durations: { running: 40_000, idle: 0, fault: 0, offline: 0, unknown: 0 },
      good: 5,
      scrap: 0,
      idealCycleTimeS: 8,
    });
    expect(enough.performance).toBeCloseTo(1, 6);
    expect(enough.oee).toBeCloseTo(1, 6);
  });
});

describe('counters', () => {
  it('treats a drop from a low value as a reset: the new value is the delta', () => {
    // 100 → 250 (+150), reset, 30 (+30), 80 (+50) → 230.
    const obs = [100, 250, 30, 80].map((value, i) => ({ ts: T0 + i * MIN, value }));
    expect(productionBetween(obs, T0 - 1, T0 + H, u32)).toBe(230);
    expect(counterDelta(1_000, 5, u32)).toBe(5);
  });

  it('never lets a reset account for more than the machine could have made', () => {
    // A device restarts with its counter preset to 4 651 half a second after the last reading
    // of 12 000: at an ideal 8 s cycle at most 1 part is plausible.
    expect(plausibleReset(500, 8)).toBe(2);
    expect(counterDelta(12_000, 4_651, u32, plausibleReset(500, 8))).toBe(2);
    const obs = [
      { ts: T0, value: 12_000 },
      { ts: T0 + 500, value: 4_651 },
      { ts: T0 + 8_500, value: 4_652 },
    ];
    expect(productionBetween(obs, T0 - 1, T0 + H, u32, 8)).toBe(3);
    // Through the tracker: the same readings do not inflate performance.
    const t = createKpiTracker({ idealCycleTimeS: 8, goodSpec: u32, scrapSpec: u32 });
    t.setState('running', T0);
    for (const o of obs) t.observe('good', o.ts, o.value);
    expect(t.kpis(T0, T0 + 8_500).goodCount).toBe(3);
  });

  it('treats a drop from near 2^32 as a uint32 rollover', () => {
    // 4 294 967 290 → 5: 6 up to 2^32, then 5 more = 11.
    expect(counterDelta(4_294_967_290, 5, u32)).toBe(11);
    // Just above 2^32 − 2^20 still counts as rollover; just below is a reset.
    expect(counterDelta(2 ** 32 - 2 ** 20 + 1, 0, u32)).toBe(2 ** 20 - 1);
    expect(counterDelta(2 ** 32 - 2 ** 20 - 10, 7, u32)).toBe(7);
  });

  it('wraps 16-bit counters at 2^16', () => {
    const u16 = counterSpecFor('uint16');
    expect(u16).toEqual({ wrapAt: 65_536, max: 65_535, margin: 4_096 });
    // 65 530 → 4: 6 up to 65 536, then 4 more = 10.
    expect(counterDelta(65_530, 4, u16)).toBe(10);
    // A signed 16-bit counter goes from 32 760 to −32 760: 16 parts.
    expect(counterDelta(32_760, -32_760, counterSpecFor('int16'))).toBe(16);
    // Floats do not wrap: a drop is a reset.
    expect(counterDelta(100, 3, counterSpecFor('float32'))).toBe(3);
  });
});

describe('KPI tracker', () => {
  it('agrees with the pure functions and stays bounded over days', () => {
    const t = createKpiTracker({ idealCycleTimeS: 10, goodSpec: u32, scrapSpec: u32 });
    let good = 0;
    // Three days of 10 s polls: running 50 min, idle 10 min every hour; one part per 12 s running.
    const step = 10_000;
    for (let ts = T0; ts < T0 + 72 * H; ts += step) {
      const running = (ts - T0) % H < 50 * MIN;
      t.setState(running ? 'running' : 'idle', ts);
      if (running && (ts - T0) % 120_000 === 0) good += 10;
      t.observe('good', ts, good);
      t.observe('scrap', ts, 0);
      if ((ts - T0) % MIN === 0) t.prune(ts - 8 * H);
    }
    const size = t.size();
    expect(size.segments).toBeLessThanOrEqual(2 * 9 + 1);
    expect(size.deltas).toBeLessThanOrEqual((8 * H) / 120_000 + 10);
    const now = T0 + 72 * H - step;
    const k = t.kpis(now - 6 * H, now);
    // 6 whole hours back from xx:59:50: 6 × 50 min running → A = 50/60.
    expect(k.availability).toBeCloseTo(50 / 60, 2);
    // 10 parts per 2 min of running → 5 parts per min → 300 per 60 min running.
    expect(k.goodCount).toBe(1_500);
  });

  it('counts production in any window as a plain sum would, through growth and pruning', () => {
    const t = createKpiTracker({ idealCycleTimeS: 0.05, goodSpec: u32, scrapSpec: u32 });
    t.setState('running', T0);
    // A counter moving by 1–3 every 50 ms, sometimes twice at the same ts, pruned every 10 s.
    const booked: { ts: number; n: number }[] = [];
    let good = 0;
    let pruned = -Infinity;
    for (let i = 0; i < 20_000; i++) {
      const ts = T0 + Math.floor(i / 2) * 50;
      const n = (i % 3) + 1;
      good += n;
      t.observe('good', ts, good);
      booked.push({ ts, n });
      if (i % 400 === 399) {
        pruned = ts - 30_000;
        t.prune(pruned);
      }
    }
    const plain = (from: number, to: number): number => booked.reduce((a, d) => a + (d.ts > from && d.ts <= to ? d.n : 0), 0);
    const end = booked[booked.length - 1]!.ts;
    for (const [from, to] of [
      [pruned, end],
      [pruned + 25, end - 25],
      [end - 1000, end],
      [end - 50, end - 50],
      [end, end + 1000],
      [end - 7_777, end - 3_333],
    ] as const)
      expect(t.kpis(from, to).goodCount).toBe(plain(from, to));
    // Bounded by the pruning, not by what was ever booked.
    expect(t.size().deltas).toBeLessThanOrEqual(30_000 / 25 + 400);
  });

  it('does not open a new segment for the same state', () => {
    const t = createKpiTracker({ idealCycleTimeS: 1, goodSpec: null, scrapSpec: null });
    t.setState('running', T0);
    t.setState('running', T0 + MIN);
    t.setState('fault', T0 + 2 * MIN);
    expect(t.size().segments).toBe(2);
    const k = t.kpis(T0, T0 + 3 * MIN);
    expect(k.runTimeS).toBe(120);
    expect(k.downTimeS).toBe(60);
  });
});

describe('shifts', () => {
  const shifts = [
    { name: 'Early', start: '06:00' },
    { name: 'Late', start: '14:00' },
    { name: 'Night', start: '22:00' },
  ];

  it('finds the shift, wrapping over midnight', () => {
    expect(currentShift(Date.UTC(2026, 0, 12, 10, 0), shifts, 'UTC')).toEqual({
      name: 'Early',
      start: Date.UTC(2026, 0, 12, 6),
      end: Date.UTC(2026, 0, 12, 14),
    });
    // 23:30 and 03:00 are both in the night shift that started at 22:00.
    const night = { name: 'Night', start: Date.UTC(2026, 0, 12, 22), end: Date.UTC(2026, 0, 13, 6) };
    expect(currentShift(Date.UTC(2026, 0, 12, 23, 30), shifts, 'UTC')).toEqual(night);
    expect(currentShift(Date.UTC(2026, 0, 13, 3, 0), shifts, 'UTC')).toEqual(night);
    // The boundary belongs to the shift that starts there.
    expect(currentShift(Date.UTC(2026, 0, 13, 6, 0), shifts, 'UTC').name).toBe('Early');
  });

  it('makes one configured shift last 24 h', () => {
    const s = currentShift(Date.UTC(2026, 0, 12, 5, 0), [{ name: 'Day', start: '06:00' }], 'UTC');
    expect(s).toEqual({ name: 'Day', start: Date.UTC(2026, 0, 11, 6), end: Date.UTC(2026, 0, 12, 6) });
  });

  it('uses the wall clock of the plant', () => {
    // Berlin in January is UTC+1: the Early shift starts at 05:00 UTC.
    const s = currentShift(Date.UTC(2026, 0, 12, 5, 30), shifts, 'Europe/Berlin');
    expect(s).toEqual({ name: 'Early', start: Date.UTC(2026, 0, 12, 5), end: Date.UTC(2026, 0, 12, 13) });
  });

  it('makes the night shift 7 h when Berlin springs forward (2026-03-29)', () => {
    // 22:00 CET on the 28th = 21:00 UTC; 06:00 CEST on the 29th = 04:00 UTC → 7 h.
    const s = currentShift(Date.UTC(2026, 2, 29, 3, 0), shifts, 'Europe/Berlin');
    expect(s).toEqual({ name: 'Night', start: Date.UTC(2026, 2, 28, 21), end: Date.UTC(2026, 2, 29, 4) });
    expect(s.end - s.start).toBe(7 * H);
    // The Early shift after it is 8 h again, in summer time.
    const e = currentShift(Date.UTC(2026, 2, 29, 4, 0), shifts, 'Europe/Berlin');
    expect(e).toEqual({ name: 'Early', start: Date.UTC(2026, 2, 29, 4), end: Date.UTC(2026, 2, 29, 12) });
  });

  it('makes the night shift 9 h when Berlin falls back (2026-10-25)', () => {
    // 22:00 CEST on the 24th = 20:00 UTC; 06:00 CET on the 25th = 05:00 UTC → 9 h.
    const s = currentShift(Date.UTC(2026, 9, 25, 1, 30), shifts, 'Europe/Berlin');
    expect(s).toEqual({ name: 'Night', start: Date.UTC(2026, 9, 24, 20), end: Date.UTC(2026, 9, 25, 5) });
    expect(s.end - s.start).toBe(9 * H);
  });

  it('resolves wall times in the DST gap and fold', () => {
    expect(zoneOffsetMs(Date.UTC(2026, 6, 1), 'Europe/Berlin')).toBe(2 * H);
    // 02:30 does not exist on 2026-03-29: read as 03:30 CEST = 01:30 UTC.
    expect(zonedTimeToEpoch(2026, 3, 29, 2, 30, 'Europe/Berlin')).toBe(Date.UTC(2026, 2, 29, 1, 30));
    // 02:30 happens twice on 2026-10-25: the first (CEST, 00:30 UTC) wins.
    expect(zonedTimeToEpoch(2026, 10, 25, 2, 30, 'Europe/Berlin')).toBe(Date.UTC(2026, 9, 25, 0, 30));
  });

  it('caches within a shift and moves on at its end', () => {
    const cal = shiftCalendar(shifts, 'UTC');
    const a = cal(Date.UTC(2026, 0, 12, 7));
    expect(cal(Date.UTC(2026, 0, 12, 13, 59))).toBe(a);
    expect(cal(Date.UTC(2026, 0, 12, 14)).name).toBe('Late');
  });
});
