/**
 * Web mode's firmware upload: POST FIRMWARE_UPLOAD_PATH?name=FILE with the bundle's bytes as
 * `application/octet-stream`. A WebSocket frame carries at most 64 KiB; a bundle up to
 * FIRMWARE_UPLOAD_MAX_BYTES comes here instead, with the same checks as the rest of the API:
 *
 * - who: the request's session (cookie) or, on a loopback console without sign-in, the local
 *   viewer, through firmware.import's own gate (role, remote grant) before a byte is read;
 * - CSRF: a foreign Origin is refused, and `application/octet-stream` is no type a cross-site form
 *   can send (a page elsewhere would need a CORS preflight, which this server never grants);
 * - size: a declared Content-Length over the limit is refused unread; the body is streamed to a
 *   private file in the data dir (0600 in a 0700 directory), counted on the way and cut off past
 *   the limit, so memory holds one chunk until the whole bundle, now bounded, is read for the check;
 * - then the same import as the command (ConsoleApi.importFirmwareUpload): a refusal is stored
 *   and audited as every refusal, oversized ones included. The answer is the command's result
 *   envelope, with an HTTP status that says the same (413 too large, 422 refused, 401, 403…).
 *
 * At most MAX_ACTIVE uploads run at once (a 429 says so); files left by a crash are removed at start.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { FIRMWARE_UPLOAD_MAX_BYTES } from '../../src-preload/channels';
import type { Caller, Result } from '../../src-preload/contract';
import type { ConsoleApi } from '../api/service';
import type { Logger } from '../core/log';
import { clientAddress, sameOrigin } from './http-util';

const MAX_ACTIVE = 2;
/** How long the rest of an oversized body is read (and dropped) so that its sender sees the answer. */
const DRAIN_MS = 10_000;
const PART = /^upload-[0-9a-f-]{36}\.part$/;

/** What the route needs of the server around it. */
export interface FirmwareUploadOptions {
  api: Pick<ConsoleApi, 'authorize' | 'importFirmwareUpload'>;
  /** Where bodies are streamed to (the data dir's `uploads`). */
  dir: string;
  /** Who the request acts as (its session, or the local viewer), null when nobody. */
  callerOf(req: IncomingMessage): Caller | null;
  /** A person did something: the session stays open. */
  activity(req: IncomingMessage): void;
  scheme: 'http' | 'https';
  log: Logger;
  /** Default FIRMWARE_UPLOAD_MAX_BYTES. */
  maxBytes?: number;
}

/** HTTP status of an answer's error code. */
function statusOf(code: string): number {
  switch (code) {
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'UNAVAILABLE':
      return 503;
    case 'INTERNAL':
      return 500;
    default:
      return 422;
  }
}

/**
 * Streams the request body into `file` (created 0600, never an existing one), one chunk in memory
 * at a time; stops at `max` bytes. 'done' once the file holds the whole body.
 */
function receive(req: IncomingMessage, file: string, max: number): Promise<'done' | 'too-large' | Error> {
  return new Promise((resolve) => {
    const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
    let size = 0;
    let settled = false;
    const settle = (r: 'done' | 'too-large' | Error): void => {
      if (settled) return;
      settled = true;
      if (r !== 'done') out.destroy();
      resolve(r);
    };
    out.on('error', (err) => settle(err));
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > max) return settle('too-large');
      if (!out.write(chunk)) {
        req.pause();
        out.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      if (!settled) out.end(() => settle('done'));
    });
    req.on('close', () => {
      if (!req.complete) settle(new Error(`the upload broke off after ${size} bytes`));
    });
  });
}

/** The upload route; `handle` answers every request to FIRMWARE_UPLOAD_PATH. */
export function firmwareUploadRoute(o: FirmwareUploadOptions): {
  handle(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): void;
} {
  const max = o.maxBytes ?? FIRMWARE_UPLOAD_MAX_BYTES;
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  // Bodies a crash left behind are nobody's any more.
  for (const f of readdirSync(o.dir)) if (PART.test(f)) rmSync(join(o.dir, f), { force: true });
  let active = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): Promise<void> => {
    const answer = (status: number, result: Result<unknown>, extra: Record<string, string> = {}): void => {
      if (res.headersSent) return;
      res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...extra });
      res.end(JSON.stringify(result));
    };
    const refuse = (status: number, code: string, message: string, extra: Record<string, string> = {}): void => {
      o.log.log('warn', `Firmware upload refused: ${message}`, { status, code, source: clientAddress(req) });
      answer(status, { ok: false, error: { code, message } }, extra);
    };
    if (req.method !== 'POST') return refuse(405, 'BAD_REQUEST', 'Send the bundle with POST', { Allow: 'POST' });
    if (!sameOrigin(req, o.scheme, false)) return refuse(403, 'FORBIDDEN', 'Requests from other sites are refused');
    const caller = o.callerOf(req);
    if (!caller) return refuse(401, 'UNAUTHENTICATED', 'Sign in to import firmware');
    const allowed = o.api.authorize(caller, 'firmware.import');
    if (!allowed.ok) {
      if (caller.role === 'viewer') return refuse(401, 'UNAUTHENTICATED', 'Sign in as maintenance or admin to import firmware');
      return answer(statusOf(allowed.error.code), allowed);
    }
    o.activity(req);
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/octet-stream')
      return refuse(415, 'BAD_REQUEST', 'Send the bundle file itself as application/octet-stream, not as a form');
    const fileName = new URL(req.url ?? '/', 'http://localhost').searchParams.get('name') ?? '';
    if (fileName.length < 1 || fileName.length > 255) return refuse(400, 'BAD_REQUEST', 'Name the file: ?name=FILE, 1–255 characters');
    const declared = req.headers['content-length'] === undefined ? null : Number(req.headers['content-length']);
    const oversize = async (size: number | null): Promise<void> => {
      // The rest is not stored: it is read and dropped so that the client sees the answer, for at most DRAIN_MS.
      req.removeAllListeners('data');
      req.resume();
      const cut = setTimeout(() => req.destroy(), DRAIN_MS);
      req.once('end', () => clearTimeout(cut));
      const r = await o.api.importFirmwareUpload(caller, { fileName, oversize: { size, limit: max } });
      answer(413, r);
    };
    if (declared !== null && declared > max) return oversize(declared);
    if (active >= MAX_ACTIVE)
      return refuse(429, 'BAD_REQUEST', 'Another firmware upload is running on this console: try again when it is done', {
        'Retry-After': '10',
      });

    active++;
    const file = join(o.dir, `upload-${randomUUID()}.part`);
    try {
      const got = await receive(req, file, max);
      if (got === 'too-large') return await oversize(null);
      if (got instanceof Error) {
        // The client went away mid-upload: nothing was imported, nobody to answer.
        o.log.log('warn', 'Firmware upload interrupted before its end: nothing imported', {
          source: clientAddress(req),
          error: got.message,
        });
        req.destroy();
        return;
      }
      const bytes = await readFile(file);
      const r = await o.api.importFirmwareUpload(caller, { fileName, bytes });
      answer(r.ok ? 200 : statusOf(r.error.code), r);
    } finally {
      active--;
      rmSync(file, { force: true });
    }
  };

  return {
    handle(req, res, headers) {
      handle(req, res, headers).catch((err: unknown) => {
        o.log.log('error', 'Firmware upload failed inside the console', { error: err instanceof Error ? err.message : String(err) });
        if (!res.headersSent) {
          res.writeHead(500, { ...headers, 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
          res.end(
            JSON.stringify({
              ok: false,
              error: { code: 'INTERNAL', message: 'The upload failed inside the console; the details are in its log' },
            }),
          );
        }
      });
    },
  };
}
