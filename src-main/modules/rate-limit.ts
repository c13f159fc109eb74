/**
 * Token buckets per source address for the module channel: each source may make `burst`
 * requests at once and `perSecond` on average. A bounded map (the least recently used source
 * goes first), so a flood from invented addresses cannot exhaust memory.
 */
import type { Clock } from '../core/types';

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly o: { perSecond: number; burst: number; clock: Clock; maxSources?: number }) {}

  /** Takes one token for `source`; false when it has none left (answer 429). */
  take(source: string): boolean {
    const now = this.o.clock.now();
    const b = this.buckets.get(source) ?? { tokens: this.o.burst, at: now };
    this.buckets.delete(source);
    b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.perSecond);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(source, b);
    const max = this.o.maxSources ?? 10_000;
    while (this.buckets.size > max) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) break;
      this.buckets.delete(oldest.value);
    }
    return ok;
  }
}
