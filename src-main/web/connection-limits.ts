/**
 * How many WebSockets web mode keeps open at once: per signed-in session and per source
 * address. A UI needs one connection per tab; without a bound, one session (or one address)
 * could open sockets until the console runs out of memory or file descriptors. A refused
 * connection is accepted and closed at once with TOO_MANY_CONNECTIONS_CLOSE and a reason a
 * person can act on, because a browser sees the close reason but never the status of a refused
 * upgrade.
 */
import { TOO_MANY_CONNECTIONS_CLOSE } from '../../src-preload/channels';

/** Defaults: a person with several tabs, and an office of people behind one NAT address. */
export const DEFAULT_CONNECTION_LIMITS = Object.freeze({ perSession: 8, perSource: 32 });

/** Open sockets allowed per session and per source address. */
export interface ConnectionLimitOptions {
  perSession: number;
  perSource: number;
}

/** A socket admitted (release it when it closes) or refused with its close code and reason. */
export type Admission = { ok: true; release(): void } | { ok: false; code: number; reason: string };

/** Counts open sockets per session and per source; `admit` before serving one. */
export class ConnectionLimits {
  private readonly bySource = new Map<string, number>();
  private readonly bySession = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimitOptions = DEFAULT_CONNECTION_LIMITS) {}

  /** Admits one more socket of `source` (and of `sessionId`, when signed in), or says why not. */
  admit(source: string, sessionId: string | null): Admission {
    const fromSource = this.bySource.get(source) ?? 0;
    if (fromSource >= this.limits.perSource) {
      return {
        ok: false,
        code: TOO_MANY_CONNECTIONS_CLOSE,
        reason: fit(`Too many connections from ${source}: ${fromSource} open, at most ${this.limits.perSource}`),
      };
    }
    const ofSession = sessionId === null ? 0 : (this.bySession.get(sessionId) ?? 0);
    if (sessionId !== null && ofSession >= this.limits.perSession) {
      return {
        ok: false,
        code: TOO_MANY_CONNECTIONS_CLOSE,
        reason: `Too many connections for this sign-in: ${ofSession} open, at most ${this.limits.perSession}; close another tab`,
      };
    }
    this.bySource.set(source, fromSource + 1);
    if (sessionId !== null) this.bySession.set(sessionId, ofSession + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        decrement(this.bySource, source);
        if (sessionId !== null) decrement(this.bySession, sessionId);
      },
    };
  }

  /** Open sockets now (tests and health). */
  open(): { sources: number; sockets: number } {
    let sockets = 0;
    for (const n of this.bySource.values()) sockets += n;
    return { sources: this.bySource.size, sockets };
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 1) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

/** A close reason must fit a close frame (123 bytes); an IPv6 source can be long. */
function fit(text: string): string {
  let out = text;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}
