/**
 * KPIs after ISO 22400-2, computed from a timeline of machine-state segments and from the
 * good/scrap counters read from the device.
 *
 * Definitions, over a window [from, to]:
 *   offlineTimeS   time the console could not see the machine (link down, state `unknown`,
 *                  or before the console started). We do not know what the machine did, so
 *                  this time is neither production nor downtime: it is left out of the
 *                  planned time and reported on its own.
 *   plannedTimeS   PBT, planned busy time = window − offline time.
 *   runTimeS       APT, actual production time = time in `running`.
 *   downTimeS      idle + fault.
 *   produced       good + scrap counted in the window.
 *   availability   APT / PBT.                                 null when PBT = 0
 *   performance    idealCycleTimeS × produced / APT.          null when APT = 0
 *                  Not capped: a value above 1 says the profile's ideal cycle time is too
 *                  slow for this machine, and the operator should see that.
 *   quality        good / produced.                           null when produced = 0
 *   oee            A × P × Q, which reduces to idealCycleTimeS × good / PBT; that form is
 *                  used so an idle shift shows OEE 0 (nothing made in planned time) rather
 *                  than "unknown". null when PBT = 0.
 *   avgCycleTimeS  APT / produced.                            null when produced = 0
 *   throughputPerHour good / PBT in hours.                    null when PBT = 0
 *   scrapRate      scrap / produced.                          null when produced = 0
 *
 * Counters: production in a window is the sum of the deltas between consecutive observations
 * whose later observation falls in (from, to]. A negative delta is a rollover when the previous
 * value was within `margin` of the largest value the register holds (delta = value + wrapAt −
 * previous), otherwise a reset to zero (delta = value), but never more than the machine could
 * have made since the previous reading (3 × the ideal rate): a device that restarts with a
 * preset or garbage counter must not inflate production. Deltas across an offline gap count:
 * the device kept counting while we could not see it.
 */
import type { Kpis, MachineState, PointType } from '../../src-preload/contract';

/** A stretch of time in one state; `end` null while it is still going on. */
export interface StateSegment {
  state: MachineState;
  start: number;
  end: number | null;
}

/** One reading of a counter. */
export interface CounterObservation {
  ts: number;
  value: number;
}

/** How a counter register wraps, in engineering units; null for types that do not wrap. */
export type CounterSpec = { wrapAt: number; max: number; margin: number } | null;

/** Milliseconds spent in each state within [from, to]; time no segment covers counts as offline. */
export type StateDurations = Record<MachineState, number>;

/** The wrap behaviour of a counter point of this type, scale and offset. */
export function counterSpecFor(type: PointType, scale = 1, offset = 0): CounterSpec {
  let wrapAt: number;
  let maxRaw: number;
  switch (type) {
    case 'uint16':
      [wrapAt, maxRaw] = [2 ** 16, 2 ** 16 - 1];
      break;
    case 'int16':
      [wrapAt, maxRaw] = [2 ** 16, 2 ** 15 - 1];
      break;
    case 'uint32':
      [wrapAt, maxRaw] = [2 ** 32, 2 ** 32 - 1];
      break;
    case 'int32':
      [wrapAt, maxRaw] = [2 ** 32, 2 ** 31 - 1];
      break;
    default:
      return null;
  }
  if (!(scale > 0)) return null;
  // 2^20 below the top for 32-bit counters; a 16-bit register gets 1/16 of its range, since
  // 2^20 would swallow it whole.
  const marginRaw = Math.min(2 ** 20, wrapAt / 16);
  return { wrapAt: wrapAt * scale, max: maxRaw * scale + offset, margin: marginRaw * scale };
}

/** Parts made between two readings of a counter (see the rollover/reset rule above). */
export function counterDelta(previous: number, value: number, spec: CounterSpec, maxReset = Infinity): number {
  const d = value - previous;
  if (d >= 0) return d;
  if (spec && previous > spec.max - spec.margin) return value + spec.wrapAt - previous;
  return Math.min(Math.max(0, value), maxReset);
}

/** The most parts a reset may account for between two readings `dtMs` apart. */
export function plausibleReset(dtMs: number, idealCycleTimeS: number): number {
  return Math.ceil((Math.max(0, dtMs) / 1000 / idealCycleTimeS) * 3) + 1;
}

/** Production counted in (from, to] from a series of counter readings in time order. */
export function productionBetween(
  obs: readonly CounterObservation[],
  from: number,
  to: number,
  spec: CounterSpec,
  idealCycleTimeS = 0,
): number {
  let sum = 0;
  for (let i = 1; i < obs.length; i++) {
    const prev = obs[i - 1];
    const cur = obs[i];
    if (!prev || !cur || cur.ts <= from || cur.ts > to) continue;
    const cap = idealCycleTimeS > 0 ? plausibleReset(cur.ts - prev.ts, idealCycleTimeS) : Infinity;
    sum += counterDelta(prev.value, cur.value, spec, cap);
  }
  return sum;
}

/** Time in each state within [from, to], open segments running to `to`. */
export function stateDurations(segments: readonly StateSegment[], from: number, to: number): StateDurations {
  const out: StateDurations = { running: 0, idle: 0, fault: 0, offline: 0, unknown: 0 };
  if (!(to > from)) return out;
  let covered = 0;
  for (const s of segments) {
    const start = Math.max(s.start, from);
    const end = Math.min(s.end ?? to, to);
    if (end <= start) continue;
    out[s.state] += end - start;
    covered += end - start;
  }
  out.offline += Math.max(0, to - from - covered);
  return out;
}

/** What `computeKpis` needs: a window, the time in each state and the parts counted in it. */
export interface KpiInput {
  from: number;
  to: number;
  durations: StateDurations;
  good: number;
  scrap: number;
  idealCycleTimeS: number;
}

/** Ideal cycles of running time before performance and OEE are reported. */
export const MIN_CYCLES = 5;

/** The ISO 22400-2 KPIs of one window (definitions at the top of this file). */
export function computeKpis(input: KpiInput): Kpis {
  const { from, to, durations, good, scrap, idealCycleTimeS } = input;
  const windowS = Math.max(0, to - from) / 1000;
  const runTimeS = durations.running / 1000;
  const downTimeS = (durations.idle + durations.fault) / 1000;
  const plannedTimeS = Math.min(windowS, runTimeS + downTimeS);
  const offlineTimeS = Math.max(0, windowS - plannedTimeS);
  const produced = good + scrap;
  const ratio = (num: number, den: number): number | null => (den > 0 ? num / den : null);
  // Parts come whole: over a few cycles one part more or less swings performance by tens of
  // percent. Below MIN_CYCLES ideal cycles of running time, performance and OEE are unknown.
  const enough = runTimeS >= MIN_CYCLES * idealCycleTimeS || plannedTimeS >= MIN_CYCLES * idealCycleTimeS * 4;
  return {
    from,
    to,
    plannedTimeS,
    runTimeS,
    downTimeS,
    offlineTimeS,
    goodCount: good,
    scrapCount: scrap,
    availability: ratio(runTimeS, plannedTimeS),
    performance: enough ? ratio(idealCycleTimeS * produced, runTimeS) : null,
    quality: ratio(good, produced),
    oee: enough ? ratio(idealCycleTimeS * good, plannedTimeS) : null,
    idealCycleTimeS,
    avgCycleTimeS: ratio(runTimeS, produced),
    throughputPerHour: ratio(good * 3600, plannedTimeS),
    scrapRate: ratio(scrap, produced),
  };
}

/** KPIs of [from, to] straight from a timeline and counter readings (pure). */
export function kpisFromTimeline(input: {
  from: number;
  to: number;
  segments: readonly StateSegment[];
  good: readonly CounterObservation[];
  scrap: readonly CounterObservation[];
  goodSpec: CounterSpec;
  scrapSpec: CounterSpec;
  idealCycleTimeS: number;
}): Kpis {
  return computeKpis({
    from: input.from,
    to: input.to,
    durations: stateDurations(input.segments, input.from, input.to),
    good: productionBetween(input.good, input.from, input.to, input.goodSpec, input.idealCycleTimeS),
    scrap: productionBetween(input.scrap, input.from, input.to, input.scrapSpec, input.idealCycleTimeS),
    idealCycleTimeS: input.idealCycleTimeS,
  });
}

export type CounterKind = 'good' | 'scrap';

/** The running state of one machine's KPIs; keeps only what `prune` leaves it. */
export interface KpiTracker {
  /** Records the state from `ts` on (same state again: no new segment). */
  setState(state: MachineState, ts: number): void;
  /** Records a counter reading; its delta to the previous reading is booked at `ts`. */
  observe(kind: CounterKind, ts: number, value: number): void;
  kpis(from: number, to: number): Kpis;
  /** Forgets segments that ended and counter deltas booked before `beforeMs`. */
  prune(beforeMs: number): void;
  /** How much is held (for memory tests and health). */
  size(): { segments: number; deltas: number };
}

/**
 * Counter deltas in time order as running totals in typed arrays: a window's production is two
 * binary searches, not a walk over every delta (a counter that moves every 50 ms books 72 000 an
 * hour, and every snapshot asks for the shift and the rolling window), and no object per delta.
 */
class DeltaLog {
  private ts = new Float64Array(64);
  private cum = new Float64Array(64);
  private start = 0;
  private end = 0;
  /** Production booked before `start` (pruned). */
  private base = 0;

  get length(): number {
    return this.end - this.start;
  }

  lastTs(): number | undefined {
    return this.end > this.start ? this.ts[this.end - 1] : undefined;
  }

  push(ts: number, n: number): void {
    if (this.end === this.ts.length) this.compact();
    const before = this.end > this.start ? this.cum[this.end - 1]! : this.base;
    this.ts[this.end] = ts;
    this.cum[this.end] = before + n;
    this.end++;
  }

  /** Room at the end: drop what was pruned, or grow. */
  private compact(): void {
    const live = this.end - this.start;
    const size = live * 2 > this.ts.length ? this.ts.length * 2 : this.ts.length;
    const ts = new Float64Array(size);
    const cum = new Float64Array(size);
    ts.set(this.ts.subarray(this.start, this.end));
    cum.set(this.cum.subarray(this.start, this.end));
    this.ts = ts;
    this.cum = cum;
    this.start = 0;
    this.end = live;
  }

  /** Running total up to and including the last delta booked at or before `t`. */
  private totalAt(t: number): number {
    let lo = this.start;
    let hi = this.end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo > this.start ? this.cum[lo - 1]! : this.base;
  }

  /** Production booked in (from, to]. */
  sumBetween(from: number, to: number): number {
    if (!(to > from)) return 0;
    return this.totalAt(to) - this.totalAt(from);
  }

  /** Forgets deltas booked before `beforeMs`. */
  prune(beforeMs: number): void {
    while (this.start < this.end && this.ts[this.start]! < beforeMs) {
      this.base = this.cum[this.start]!;
      this.start++;
    }
  }
}

/** A per-machine KPI tracker: state segments plus counter deltas, bounded by `prune`. */
export function createKpiTracker(opts: { idealCycleTimeS: number; goodSpec: CounterSpec; scrapSpec: CounterSpec }): KpiTracker {
  const segments: StateSegment[] = [];
  const deltas: Record<CounterKind, DeltaLog> = { good: new DeltaLog(), scrap: new DeltaLog() };
  const last: Record<CounterKind, number | null> = { good: null, scrap: null };
  const lastTs: Record<CounterKind, number> = { good: 0, scrap: 0 };
  const specs: Record<CounterKind, CounterSpec> = { good: opts.goodSpec, scrap: opts.scrapSpec };

  return {
    setState(state, ts) {
      const open = segments[segments.length - 1];
      if (open && open.end === null) {
        if (open.state === state) return;
        open.end = Math.max(ts, open.start);
      }
      segments.push({ state, start: open ? Math.max(ts, open.start) : ts, end: null });
    },
    observe(kind, ts, value) {
      if (!Number.isFinite(value)) return;
      const prev = last[kind];
      const prevTs = lastTs[kind];
      last[kind] = value;
      lastTs[kind] = ts;
      if (prev === null) return;
      const n = counterDelta(prev, value, specs[kind], plausibleReset(ts - prevTs, opts.idealCycleTimeS));
      if (n <= 0) return;
      const list = deltas[kind];
      const tail = list.lastTs();
      // Out-of-order readings would break the running totals' order: book them at the tail.
      list.push(tail === undefined ? ts : Math.max(ts, tail), n);
    },
    kpis(from, to) {
      return computeKpis({
        from,
        to,
        durations: stateDurations(segments, from, to),
        good: deltas.good.sumBetween(from, to),
        scrap: deltas.scrap.sumBetween(from, to),
        idealCycleTimeS: opts.idealCycleTimeS,
      });
    },
    prune(beforeMs) {
      let drop = 0;
      while (drop < segments.length - 1 && (segments[drop]?.end ?? Infinity) < beforeMs) drop++;
      if (drop > 0) segments.splice(0, drop);
      deltas.good.prune(beforeMs);
      deltas.scrap.prune(beforeMs);
    },
    size() {
      return { segments: segments.length, deltas: deltas.good.length + deltas.scrap.length };
    },
  };
}
