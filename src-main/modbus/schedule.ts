/**
 * The poll schedule: `pollIntervalMs` is start-to-start on a fixed grid. A cycle that runs past
 * the start of its next slot (an overrun) does not make the next one start late, nor run two
 * back to back: the slots it ran into are skipped and counted, and polling continues on the grid.
 * How late each start is against its slot (timers firing late on a busy event loop) is kept in a
 * histogram, so /healthz and the bench can report its percentiles.
 */

/** Where the next cycle starts after one that ended at `now`, and how many slots it skipped. */
export function nextSlot(due: number, interval: number, now: number): { due: number; skipped: number } {
  const next = due + interval;
  if (!(interval > 0) || now <= next) return { due: next, skipped: 0 };
  // The slots whose start passed while the cycle ran are skipped; the next one is the first ahead.
  const skipped = Math.ceil((now - next) / interval);
  return { due: next + skipped * interval, skipped };
}

/** Bucket width 0.25 ms up to 20 ms, then 5 ms up to 1 s; later starts are counted in the last bucket. */
const FINE_MS = 0.25;
const FINE_UNTIL_MS = 20;
const COARSE_MS = 5;
const COARSE_UNTIL_MS = 1000;
const FINE_BUCKETS = FINE_UNTIL_MS / FINE_MS;
const BUCKETS = FINE_BUCKETS + (COARSE_UNTIL_MS - FINE_UNTIL_MS) / COARSE_MS + 1;

/** Percentiles of lateness, in ms (upper bounds of their histogram buckets). */
export interface LatenessSummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The percentiles of the starts counted in one or more histograms, without merging them. */
function summarise(hs: readonly LatenessHistogram[]): LatenessSummary {
  let n = 0;
  let max = 0;
  for (const h of hs) {
    n += h.n;
    max = Math.max(max, h.max);
  }
  const at = (q: number): number => {
    if (n === 0) return 0;
    const rank = Math.ceil(q * n);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      for (const h of hs) seen += h.counts[i]!;
      if (seen >= rank) return Math.min(max, upperBound(i));
    }
    return max;
  };
  const r = (x: number): number => Math.round(x * 100) / 100;
  return { count: n, p50Ms: r(at(0.5)), p99Ms: r(at(0.99)), maxMs: r(max) };
}

/** A fixed-size histogram of start lateness (ms); adding is allocation-free. */
export class LatenessHistogram {
  readonly counts = new Uint32Array(BUCKETS);
  n = 0;
  max = 0;

  /** Counts one start `ms` late (negative: early, counted as on time). */
  add(ms: number): void {
    const late = ms > 0 ? ms : 0;
    const i =
      late < FINE_UNTIL_MS
        ? Math.floor(late / FINE_MS)
        : Math.min(BUCKETS - 1, FINE_BUCKETS + Math.floor((late - FINE_UNTIL_MS) / COARSE_MS));
    this.counts[i]!++;
    this.n++;
    if (late > this.max) this.max = late;
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.max = 0;
  }

  summary(): LatenessSummary {
    return summarise([this]);
  }
}

function upperBound(i: number): number {
  if (i < FINE_BUCKETS) return (i + 1) * FINE_MS;
  if (i === BUCKETS - 1) return Infinity;
  return FINE_UNTIL_MS + (i - FINE_BUCKETS + 1) * COARSE_MS;
}

/**
 * Lateness over the recent past: two histograms, each covering `windowMs`; the summary spans the
 * current one and the one before it (between one and two windows of starts).
 */
export class RecentLateness {
  private current = new LatenessHistogram();
  private previous = new LatenessHistogram();
  private rotatedAt: number;

  constructor(
    private readonly windowMs: number,
    now: number,
  ) {
    this.rotatedAt = now;
  }

  add(ms: number, now: number): void {
    if (now - this.rotatedAt >= this.windowMs) {
      const old = this.previous;
      this.previous = this.current;
      this.current = old;
      this.current.reset();
      // A pause longer than two windows leaves nothing recent.
      if (now - this.rotatedAt >= 2 * this.windowMs) this.previous.reset();
      this.rotatedAt = now;
    }
    this.current.add(ms);
  }

  summary(): LatenessSummary {
    return summarise([this.previous, this.current]);
  }
}
