/**
 * The module channel: the HTTPS server the modules (device-agent/console-client.ts) talk to.
 * Modules pin its certificate (the file and its SHA-256 fingerprint). Routes:
 *
 *   POST /module/v1/pair                      a signed pairing request (pairing.ts) → {state, fingerprint}
 *   POST /module/v1/heartbeat                 a signed heartbeat (x-module-id) → {confirmHealth?, update?, root?}
 *   GET  /module/v1/firmware/{id}/manifest    {manifest: base64, signatures: [minisig text]}
 *   GET  /module/v1/firmware/{id}/image       the image; `Range: bytes=N-` or `bytes=N-M` continues it
 *
 * What is decided is the manager's (handlers); the channel bounds what comes in: body sizes,
 * header and request timeouts, a token bucket per source address, a cap on concurrent image
 * streams, and a stall timeout on a reader that stops taking bytes. Every refusal is logged and
 * counted by its reason (`stats`).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HEARTBEAT_PATH, MAX_HEARTBEAT_BYTES } from '../../device-agent/heartbeat';
import type { Logger } from '../core/log';
import type { Clock } from '../core/types';
import { clientAddress, readBody } from '../web/http-util';
import { MODULE_ID } from './config';
import { MAX_PAIRING_BYTES, PAIRING_PATH } from './pairing';
import { RateLimiter } from './rate-limit';

/** An answer: a status and a JSON body. */
export interface Answer {
  status: number;
  body: unknown;
}

/** An image to stream: its size and a reader of byte ranges. */
export interface ImageSource {
  size: number;
  read(start: number, end: number): Iterable<Buffer>;
}

/** What the manager decides for the channel. */
export interface ChannelHandlers {
  pair(doc: unknown, address: string): Answer;
  heartbeat(moduleId: string, doc: unknown, address: string): Answer;
  manifest(moduleId: string, id: string, address: string): Answer;
  image(moduleId: string, id: string, address: string): ImageSource | Answer;
}

export interface ModuleChannelOptions {
  host: string;
  port: number;
  tls: { cert: string; key: string };
  handlers: ChannelHandlers;
  log: Logger;
  clock: Clock;
  /** Requests per second and burst per source address (default 20 and 60). */
  rate?: { perSecond: number; burst: number };
  /** Image downloads at once (default 16). */
  maxImageStreams?: number;
  /** A download whose reader takes no byte for this long is cut (default 60 s). */
  stallMs?: number;
}

export interface ModuleChannel {
  url: string;
  port: number;
  /** Refusals by reason, and requests served. */
  stats(): { requests: number; refused: Record<string, number> };
  close(): Promise<void>;
}

const FIRMWARE_PATH = /^\/module\/v1\/firmware\/([A-Za-z0-9._-]{1,128})\/(manifest|image)$/;

/** Parses a single `bytes=` range against `size`; null when there is none, 'bad' when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'bad' {
  if (header === undefined) return null;
  const m = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(header.trim());
  if (!m) return 'bad';
  const start = Number(m[1]);
  const end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1);
  if (start >= size || end <= start) return 'bad';
  return { start, end };
}

/** Waits until the response takes bytes again, closes, or `ms` pass without either. */
function drained(res: ServerResponse, ms: number): Promise<'drained' | 'closed' | 'stalled'> {
  return new Promise((resolve) => {
    const done = (how: 'drained' | 'closed' | 'stalled'): void => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(how);
    };
    const onDrain = (): void => done('drained');
    const onClose = (): void => done('closed');
    const timer = setTimeout(() => done('stalled'), ms);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** Starts the channel; resolves once it listens. */
export async function startModuleChannel(o: ModuleChannelOptions): Promise<ModuleChannel> {
  const refused: Record<string, number> = {};
  let requests = 0;
  let streams = 0;
  const limiter = new RateLimiter({ ...(o.rate ?? { perSecond: 20, burst: 60 }), clock: o.clock });
  const sockets = new Set<Socket>();

  // Each reason and source is logged once a minute at most, with how often it happened since.
  const logged = new Map<string, { at: number; since: number }>();
  const refuse = (
    res: ServerResponse,
    status: number,
    reason: string,
    message: string,
    address: string,
    extra: Record<string, string> = {},
  ): void => {
    refused[reason] = (refused[reason] ?? 0) + 1;
    const key = `${reason} ${address}`;
    const now = o.clock.now();
    const last = logged.get(key);
    if (!last || now - last.at >= 60_000) {
      if (logged.size > 1000) logged.clear();
      logged.set(key, { at: now, since: 0 });
      const repeated = last?.since ? { repeatedSinceLastLine: last.since } : {};
      o.log.log('warn', `Module channel: refused ${reason} from ${address}`, {
        reason,
        status,
        detail: message.slice(0, 300),
        ...repeated,
      });
    } else last.since++;
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra });
    res.end(JSON.stringify({ error: { code: reason, message } }));
  };

  const send = (res: ServerResponse, a: Answer, address: string): void => {
    if (a.status >= 400) {
      const err = (a.body as { error?: { code?: string; message?: string } }).error;
      return refuse(res, a.status, err?.code ?? `http_${a.status}`, err?.message ?? 'refused', address);
    }
    const body = Buffer.from(JSON.stringify(a.body), 'utf8');
    res.writeHead(a.status, { 'content-type': 'application/json', 'content-length': String(body.length), 'cache-control': 'no-store' });
    res.end(body);
  };

  const json = async (req: IncomingMessage, res: ServerResponse, limit: number, address: string): Promise<unknown> => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') return refuse(res, 415, 'not_json', 'the body must be application/json', address);
    const announced = Number(req.headers['content-length'] ?? 0);
    if (announced > limit) return refuse(res, 413, 'too_large', `at most ${limit} bytes`, address, { connection: 'close' });
    let text: string;
    try {
      text = await readBody(req, limit);
    } catch {
      return refuse(res, 413, 'too_large', `at most ${limit} bytes`, address, { connection: 'close' });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return refuse(res, 400, 'malformed', 'the body is not JSON', address);
    }
  };

  const streamImage = async (req: IncomingMessage, res: ServerResponse, img: ImageSource, address: string): Promise<void> => {
    const range = parseRange(req.headers.range, img.size);
    if (range === 'bad')
      return refuse(res, 416, 'bad_range', `the range ${req.headers.range} does not fit ${img.size} bytes`, address, {
        'content-range': `bytes */${img.size}`,
      });
    if (streams >= (o.maxImageStreams ?? 16))
      return refuse(res, 503, 'busy', 'too many downloads at once; try again', address, { 'retry-after': '5' });
    const { start, end } = range ?? { start: 0, end: img.size };
    streams++;
    try {
      res.writeHead(range ? 206 : 200, {
        'content-type': 'application/octet-stream',
        'content-length': String(end - start),
        'accept-ranges': 'bytes',
        'cache-control': 'no-store',
        ...(range ? { 'content-range': `bytes ${start}-${end - 1}/${img.size}` } : {}),
      });
      for (const chunk of img.read(start, end)) {
        if (res.destroyed) return;
        if (!res.write(chunk)) {
          const waited = await drained(res, o.stallMs ?? 60_000);
          if (waited === 'closed') return;
          if (waited === 'stalled') {
            refused.stalled = (refused.stalled ?? 0) + 1;
            o.log.log('warn', `Module channel: a download to ${address} stalled; cut`);
            res.destroy();
            return;
          }
        }
      }
      res.end();
    } finally {
      streams--;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    requests++;
    const address = clientAddress(req);
    if (!limiter.take(address)) return refuse(res, 429, 'rate_limited', 'too many requests; slow down', address, { 'retry-after': '1' });
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const moduleId = req.headers['x-module-id'];
    const idOk = typeof moduleId === 'string' && MODULE_ID.test(moduleId);
    if (path === PAIRING_PATH) {
      if (req.method !== 'POST') return refuse(res, 405, 'method', 'POST only', address);
      const doc = await json(req, res, MAX_PAIRING_BYTES, address);
      if (res.writableEnded) return;
      return send(res, o.handlers.pair(doc, address), address);
    }
    if (path === HEARTBEAT_PATH) {
      if (req.method !== 'POST') return refuse(res, 405, 'method', 'POST only', address);
      if (!idOk) return refuse(res, 400, 'no_module_id', 'the x-module-id header is missing or malformed', address);
      const doc = await json(req, res, MAX_HEARTBEAT_BYTES, address);
      if (res.writableEnded) return;
      return send(res, o.handlers.heartbeat(moduleId, doc, address), address);
    }
    const fw = FIRMWARE_PATH.exec(path);
    if (fw) {
      if (req.method !== 'GET') return refuse(res, 405, 'method', 'GET only', address);
      if (!idOk) return refuse(res, 400, 'no_module_id', 'the x-module-id header is missing or malformed', address);
      if (fw[2] === 'manifest') return send(res, o.handlers.manifest(moduleId, fw[1]!, address), address);
      const img = o.handlers.image(moduleId, fw[1]!, address);
      if ('status' in img) return send(res, img, address);
      return streamImage(req, res, img, address);
    }
    return refuse(res, 404, 'not_found', `no ${path} here`, address);
  };

  const server: Server = createServer({ cert: o.tls.cert, key: o.tls.key, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      o.log.log('error', 'Module channel: a request failed', { error: String(err) });
      if (!res.headersSent) refuse(res, 500, 'internal', 'the console could not answer', clientAddress(req));
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', (err) => {
    refused.tls = (refused.tls ?? 0) + 1;
    o.log.log('debug', 'Module channel: a TLS handshake failed', { error: err.message });
  });
  server.listen(o.port, o.host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  o.log.log('info', 'Module channel listening', { url: `https://${host}:${port}` });
  return {
    url: `https://${host}:${port}`,
    port,
    stats: () => ({ requests, refused: { ...refused } }),
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
