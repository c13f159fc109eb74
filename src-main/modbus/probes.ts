/**
 * Probes of demoted units, kept cheap for the rest of the line. A demoted unit is believed
 * dead; each probe of it holds the shared line for its whole timeout. With several dead units
 * behind one gateway those timeouts add up and the live units lose their rate. So, per line:
 * - a probe waits for less than the unit's timeout: four times the slowest answer the line gave
 *   lately (or twice the unit's own slowest), at least PROBE_MIN_MS; every PROBE_FULL_EVERY-th
 *   probe of a unit waits the full timeout, so a unit that came back slow is still found;
 * - probes are spaced so that together they hold the line at most PROBE_SHARE of the time: a
 *   probe of t ms reserves the next t / PROBE_SHARE ms for itself, later probes wait (outside
 *   the queue, so live units keep their turns).
 */

/** Share of a line's time that probes of demoted units may take at most. */
export const PROBE_SHARE = 0.05;
/** Shortest probe timeout, ms. */
export const PROBE_MIN_MS = 100;
/** Every this-many probes of a unit, one waits the unit's full timeout. */
export const PROBE_FULL_EVERY = 4;

/** How many recent answer times the line keeps. */
const RECENT = 32;

/** Answer times on one line and the probe schedule that follows from them. */
export class ProbePlanner {
  private readonly recent: number[] = [];
  private readonly slowest = new Map<number, number>();
  private readonly probes = new Map<number, number>();
  private nextAt = -Infinity;

  /** Books the time a well-framed answer of `unitId` took, ms. */
  answered(unitId: number, ms: number): void {
    this.recent.push(ms);
    if (this.recent.length > RECENT) this.recent.shift();
    this.slowest.set(unitId, Math.max(ms, this.slowest.get(unitId) ?? 0));
  }

  /** The timeout of the next probe of `unitId` whose own timeout is `fullMs`. */
  timeoutFor(unitId: number, fullMs: number): number {
    const n = (this.probes.get(unitId) ?? 0) + 1;
    this.probes.set(unitId, n % PROBE_FULL_EVERY);
    if (n % PROBE_FULL_EVERY === 0 || this.recent.length === 0) return fullMs;
    const line = 4 * Math.max(...this.recent);
    const own = 2 * (this.slowest.get(unitId) ?? 0);
    return Math.min(fullMs, Math.max(PROBE_MIN_MS, Math.ceil(Math.max(line, own))));
  }

  /** Reserves a slot for a probe that may hold the line `costMs`; resolves to how long to wait for it, ms. */
  reserve(now: number, costMs: number): number {
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + costMs / PROBE_SHARE;
    return at - now;
  }
}
