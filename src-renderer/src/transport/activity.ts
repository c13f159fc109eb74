/**
 * A person at the window: pointer presses, keys, touches and wheel turns, reported so the
 * signed-in session does not lock while someone works. Reports are spaced by at least
 * `minIntervalMs` (default 30 s): the first input reports at once, later ones within the
 * interval are folded into one report at its end, so the console hears of activity at most
 * 30 s late and the idle lock (1 min at the least) never hits a person who is working.
 * Nothing is reported while `enabled` says no (nobody signed in).
 */

/** The part of `window` the reporter listens on. */
export interface InputTarget {
  addEventListener(type: string, listener: () => void, options?: { capture?: boolean; passive?: boolean }): void;
  removeEventListener(type: string, listener: () => void, options?: { capture?: boolean }): void;
}

export interface ActivityOptions {
  target: InputTarget;
  report(): void;
  enabled(): boolean;
  minIntervalMs?: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** What counts as a person using the window (moving a mouse past it does not). */
export const INPUT_EVENTS = ['pointerdown', 'keydown', 'touchstart', 'wheel'] as const;

export const ACTIVITY_INTERVAL_MS = 30_000;

/** Starts listening; returns the function that stops it. */
export function startActivityReports(opts: ActivityOptions): () => void {
  const interval = opts.minIntervalMs ?? ACTIVITY_INTERVAL_MS;
  const now = opts.now ?? Date.now;
  const setTimer = opts.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
  const clearTimer = opts.clearTimer ?? ((h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>));
  let lastSent = Number.NEGATIVE_INFINITY;
  let pending: unknown = null;

  const send = (): void => {
    lastSent = now();
    opts.report();
  };
  const onInput = (): void => {
    if (!opts.enabled()) return;
    const wait = lastSent + interval - now();
    if (wait <= 0) {
      send();
      return;
    }
    if (pending !== null) return;
    pending = setTimer(() => {
      pending = null;
      if (opts.enabled()) send();
    }, wait);
  };

  for (const type of INPUT_EVENTS) opts.target.addEventListener(type, onInput, { capture: true, passive: true });
  return () => {
    for (const type of INPUT_EVENTS) opts.target.removeEventListener(type, onInput, { capture: true });
    if (pending !== null) clearTimer(pending);
    pending = null;
  };
}
