/**
 * Small HTTP helpers of web mode: the session cookie, same-origin checks and JSON bodies.
 * Kept apart from the server so the login routes and the upgrade check share one reading of
 * each header.
 */
import type { IncomingMessage } from 'node:http';

/** The session cookie's name; its value is the session token (never logged). */
export const SESSION_COOKIE = 'pc_session';

/** The value of one cookie of the request, or null. */
export function cookieValue(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(raw);
    } catch {
      return null;
    }
  }
  return null;
}

/** A Set-Cookie value for the session (an empty token with maxAge 0 clears it). */
export function sessionCookie(token: string, opts: { secure: boolean; maxAgeS?: number }): string {
  const parts = [`${SESSION_COOKIE}=${encodeURIComponent(token)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (opts.secure) parts.push('Secure');
  if (opts.maxAgeS !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(opts.maxAgeS))}`);
  return parts.join('; ');
}

/**
 * True when the request's Origin is this server itself (scheme and Host as the client sent
 * them). `requireOrigin`: a missing Origin fails too (browsers always send one on POST and on
 * WebSocket upgrades; only non-browser clients omit it).
 */
export function sameOrigin(req: IncomingMessage, scheme: 'http' | 'https', requireOrigin: boolean): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return !requireOrigin;
  const host = req.headers.host;
  if (!host) return false;
  try {
    const o = new URL(origin);
    return o.protocol === `${scheme}:` && o.host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** True for an `application/json` body (with or without a charset). */
export function isJson(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  return type === 'application/json';
}

/** Reads a request body up to `limit` bytes; rejects with 'too-large' beyond it. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('too-large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The client's address as a source key ("::ffff:10.0.0.5" → "10.0.0.5"). */
export function clientAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? 'unknown';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** True for an address of this machine (127.0.0.0/8, ::1). */
export function isLoopbackAddress(addr: string): boolean {
  return addr === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(addr);
}

/** True for a Host header naming this machine: `localhost`, 127.0.0.0/8 and ::1, with or without a port. */
export function isLoopbackHostHeader(host: string | undefined): boolean {
  if (!host) return false;
  const h = host
    .toLowerCase()
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || isLoopbackAddress(h);
}
