/** Reconnect delays: exponential with jitter, as a pure function so tests can drive it. */

export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /** 0..1: how far a delay may be randomised around its nominal value. */
  randomisationFactor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 250, maxDelayMs: 5000, randomisationFactor: 0.3 };

/** Delay before reconnect attempt `attempt` (0-based); `random` returns 0..1. */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const n = Number.isFinite(attempt) ? Math.max(0, Math.floor(attempt)) : 0;
  const nominal = Math.min(opts.maxDelayMs, opts.initialDelayMs * 2 ** Math.min(n, 52));
  const jitter = 1 + opts.randomisationFactor * (random() * 2 - 1);
  return Math.max(0, Math.min(opts.maxDelayMs, Math.round(nominal * jitter)));
}
