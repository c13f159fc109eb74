/**
 * The module's side of its TLS channel to the console (heartbeats, update downloads): node:https
 * with the console's certificate, or the CA that issued it, pinned from a file (never the
 * system's trust store: a module trusts exactly one console), optionally with the certificate's
 * SHA-256 fingerprint pinned as well. Answers are bounded in size and time.
 *
 * URL scheme under the console's base URL (docs/firmware.md, "On the module"):
 *   POST {base}/module/v1/heartbeat                 a signed heartbeat → {confirmHealth?, update?}
 *   GET  {base}/module/v1/firmware/{id}/manifest    {manifest: base64, signatures: [minisig text]}
 *   GET  {base}/module/v1/firmware/{id}/image       the image; honours Range: bytes=N-
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { ConsoleError } from '../src-main/core/errors';

/** How the module recognises its console. */
export interface ConsoleTls {
  /** PEM: the console's certificate or the CA that issued it. */
  ca: string | Buffer;
  /** Optional SHA-256 fingerprint of the console's certificate ("AB:CD:…"), checked as well. */
  fingerprint256?: string;
}

/** Where the console is and how to trust it. */
export interface ConsoleEndpoint {
  /** Base URL, https://host:port[/prefix]. */
  url: string;
  tls: ConsoleTls;
  /** The module id, sent as `x-module-id` so the console can route before it checks a signature. */
  moduleId: string;
}

export const MAX_JSON_RESPONSE_BYTES = 64 * 1024;

/** The URL of `path` under the console's base URL. */
export function consoleUrl(base: string, path: string): URL {
  const u = new URL(base);
  if (u.protocol !== 'https:') throw new ConsoleError('BAD_REQUEST', `The console URL must be https://, not ${u.protocol}`);
  u.pathname = u.pathname.replace(/\/+$/, '') + path;
  return u;
}

/** node:https options pinning the console's certificate. */
export function tlsOptions(tls: ConsoleTls): Pick<RequestOptions, 'ca' | 'checkServerIdentity' | 'rejectUnauthorized' | 'agent'> {
  const pin = tls.fingerprint256?.toUpperCase();
  return {
    ca: tls.ca,
    rejectUnauthorized: true,
    // No connection reuse: every request proves the console again, and nothing lingers after stop.
    agent: false,
    checkServerIdentity(host: string, cert: PeerCertificate): Error | undefined {
      const err = checkServerIdentity(host, cert);
      if (err) return err;
      if (pin && cert.fingerprint256?.toUpperCase() !== pin) {
        return new Error(`the console's certificate ${cert.fingerprint256} is not the pinned ${pin}`);
      }
      return undefined;
    },
  };
}

/** Sends one request; resolves with the response stream (the caller reads or destroys it). */
export function send(
  url: URL,
  opts: {
    method: 'GET' | 'POST';
    tls: ConsoleTls;
    headers?: Record<string, string>;
    body?: Uint8Array;
    timeoutMs: number;
    /** Destroys the request (and its response) at once when it aborts: the module is stopping. */
    signal?: AbortSignal;
  },
): Promise<{ res: IncomingMessage; abort: (err?: Error) => void }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      method: opts.method,
      headers: { ...(opts.headers ?? {}), ...(opts.body ? { 'content-length': String(opts.body.byteLength) } : {}) },
      ...tlsOptions(opts.tls),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const timer = setTimeout(
      () => req.destroy(new ConsoleError('UNAVAILABLE', `The console did not answer ${url.pathname} within ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve({ res, abort: (err) => req.destroy(err) });
    });
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(
        err instanceof ConsoleError
          ? err
          : new ConsoleError('UNAVAILABLE', `Cannot reach the console at ${url.origin}: ${err.message}`, { cause: err }),
      );
    });
    req.end(opts.body ? Buffer.from(opts.body) : undefined);
  });
}

/** Reads a whole (small) response body; UNAVAILABLE past `maxBytes` or `timeoutMs`. */
export function readBody(res: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(
      () => fail(new ConsoleError('UNAVAILABLE', `The console's answer did not arrive within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (err: Error): void => {
      clearTimeout(timer);
      res.destroy();
      reject(err);
    };
    res.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size > maxBytes) fail(new ConsoleError('UNAVAILABLE', `The console's answer exceeds ${maxBytes} bytes`));
      else chunks.push(c);
    });
    res.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    res.once('error', fail);
    // Destroyed before its end (the request aborted): no 'end' will come.
    res.once('close', () => {
      if (!res.complete) fail(new ConsoleError('UNAVAILABLE', "The console's answer broke off"));
    });
  });
}

/** A JSON request/answer exchange with the console; UNAVAILABLE unless it answers 2xx with JSON. */
export async function exchangeJson(
  endpoint: ConsoleEndpoint,
  path: string,
  opts: { method: 'GET' | 'POST'; body?: unknown; timeoutMs: number; signal?: AbortSignal },
): Promise<unknown> {
  const url = consoleUrl(endpoint.url, path);
  const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body), 'utf8');
  const { res } = await send(url, {
    method: opts.method,
    tls: endpoint.tls,
    timeoutMs: opts.timeoutMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
    headers: { 'x-module-id': endpoint.moduleId, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body } : {}),
  });
  const text = await readBody(res, MAX_JSON_RESPONSE_BYTES, opts.timeoutMs);
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 299) {
    throw new ConsoleError('UNAVAILABLE', `The console answered ${path} with HTTP ${status}: ${text.toString('utf8').slice(0, 200)}`);
  }
  if (text.byteLength === 0) return {};
  try {
    return JSON.parse(text.toString('utf8')) as unknown;
  } catch {
    throw new ConsoleError('UNAVAILABLE', `The console answered ${path} with something that is not JSON`);
  }
}
