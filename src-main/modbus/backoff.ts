/**
 * Reconnect delays: exponential growth with jitter, in node-opcua's
 * `{initialDelay, maxDelay, randomisationFactor}` shape. Jitter keeps many consoles (or many
 * devices behind one gateway) from reconnecting in lock-step after a shared outage.
 */
import type { Backoff } from '../config/schema';

/**
 * Delay (ms) before reconnect attempt `attempt` (1 = first after a failure): initialDelayMs × 2^(attempt−1),
 * capped at maxDelayMs, then jittered by ± randomisationFactor and clamped to [0, maxDelayMs].
 */
export function backoffDelay(attempt: number, b: Backoff, random: () => number = Math.random): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  // 2^(n−1) overflows to Infinity for huge n; Math.min then yields the cap, which is what we want.
  const base = Math.min(b.initialDelayMs * 2 ** (n - 1), b.maxDelayMs);
  const drawn = random();
  // A broken random source must not turn the delay into NaN (a zero-delay reconnect storm).
  const r = Number.isFinite(drawn) ? Math.min(1, Math.max(0, drawn)) : 0.5;
  const jittered = base * (1 + b.randomisationFactor * (2 * r - 1));
  return Math.round(Math.min(b.maxDelayMs, Math.max(0, jittered)));
}
