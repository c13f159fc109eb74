/**
 * A tiny HTTPS stand-in for the console's module endpoints, for the module's tests: it serves
 * releases (manifest, then the image with HTTP Range), takes heartbeats and answers them as the
 * test says, and records every request. Its certificate is self-signed, made with the repo's
 * own TLS helper (src-main/web/tls.ts). Image responses can misbehave on purpose, one plan per
 * request: break off after n bytes, stall after n bytes, drip the rest slowly after n bytes (a
 * slow-retrieval attack that never stalls), send more bytes than the manifest says (with or
 * without announcing them), or ignore the Range header.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { ensureCertificate } from '../../src-main/web/tls';

export type ImagePlan =
  | { kind: 'normal' }
  | { kind: 'cut'; after: number }
  | { kind: 'stall'; after: number }
  /** After `after` bytes, `perTick` bytes every `tickMs` until the end (or the client leaves). */
  | { kind: 'drip'; after: number; perTick: number; tickMs: number }
  | { kind: 'extra'; bytes: number; announce: boolean }
  | { kind: 'ignore-range' };

export interface StandInRelease {
  manifest: Uint8Array;
  signatures: string[];
  image: Uint8Array;
}

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | null;
  moduleId: string | null;
  /** Image bytes written to the response so far (image requests). */
  sent: number;
  /** Set when the response's connection closed (the client aborted, or the image ended). */
  closed: boolean;
  /** Where the request's arrival and its response's close fall in the order of all such events. */
  order: { arrived: number; closed: number | null };
}

export interface ConsoleStandIn {
  url: string;
  /** The self-signed certificate (what the module pins with --console-ca). */
  certPem: string;
  certPath: string;
  fingerprint: string;
  releases: Map<string, StandInRelease>;
  /** Plans for the next image requests, used in order; then normal. */
  imagePlans: ImagePlan[];
  requests: RecordedRequest[];
  heartbeats: Record<string, unknown>[];
  /** What the next heartbeat is answered with (called per heartbeat). */
  answer: (heartbeat: Record<string, unknown>) => Record<string, unknown>;
  /** Resolves with the first heartbeat (from now on) that `match` accepts. */
  nextHeartbeat(match?: (h: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves once `n` image requests arrived in total. */
  imageRequests(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Resolves once the response to `request` closed. */
  responseClosed(request: RecordedRequest, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const CHUNK = 4096;

/** Starts the stand-in on 127.0.0.1 with a certificate generated into `dataDir`. */
export async function startConsoleStandIn(dataDir: string): Promise<ConsoleStandIn> {
  const tls = await ensureCertificate({ dataDir, hosts: ['127.0.0.1'] });
  const events = new EventEmitter();
  let order = 0;
  const sockets = new Set<Socket>();
  const self: Omit<ConsoleStandIn, 'url'> & { url: string } = {
    url: '',
    certPem: tls.cert,
    certPath: tls.certPath,
    fingerprint: tls.fingerprint,
    releases: new Map(),
    imagePlans: [],
    requests: [],
    heartbeats: [],
    answer: () => ({}),
    nextHeartbeat(match = () => true, timeoutMs = 20_000) {
      return waitFor('heartbeat', (h: Record<string, unknown>) => match(h), timeoutMs);
    },
    imageRequests(n, timeoutMs = 20_000) {
      const images = () => self.requests.filter((r) => r.path.endsWith('/image'));
      if (images().length >= n) return Promise.resolve(images());
      return waitFor('request', () => images().length >= n, timeoutMs).then(images);
    },
    responseClosed(request, timeoutMs = 20_000) {
      if (request.closed) return Promise.resolve();
      return waitFor('closed', (r: RecordedRequest) => r === request, timeoutMs).then(() => undefined);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  function waitFor<T>(event: string, match: (v: T) => boolean, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        events.off(event, on);
        reject(new Error(`no matching ${event} within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (v: T): void => {
        if (!match(v)) return;
        clearTimeout(timer);
        events.off(event, on);
        resolve(v);
      };
      events.on(event, on);
    });
  }

  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: url.pathname,
      range: req.headers.range ?? null,
      moduleId: (req.headers['x-module-id'] as string | undefined) ?? null,
      sent: 0,
      closed: false,
      order: { arrived: ++order, closed: null },
    };
    res.once('close', () => {
      record.closed = true;
      record.order.closed = ++order;
      events.emit('closed', record);
    });
    self.requests.push(record);
    events.emit('request', record);
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method === 'POST' && url.pathname === '/module/v1/heartbeat') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        self.heartbeats.push(doc);
        json(200, self.answer(doc));
        events.emit('heartbeat', doc);
      });
      return;
    }
    const m = /^\/module\/v1\/firmware\/([^/]+)\/(manifest|image)$/.exec(url.pathname);
    const rel = m ? self.releases.get(decodeURIComponent(m[1]!)) : undefined;
    if (!m || !rel || req.method !== 'GET') return json(404, { error: 'not found' });
    if (m[2] === 'manifest') return json(200, { manifest: Buffer.from(rel.manifest).toString('base64'), signatures: rel.signatures });
    serveImage(rel.image, req.headers.range, self.imagePlans.shift() ?? { kind: 'normal' }, res, record);
  });

  function serveImage(
    image: Uint8Array,
    range: string | undefined,
    plan: ImagePlan,
    res: import('node:http').ServerResponse,
    record: RecordedRequest,
  ): void {
    const size = image.byteLength;
    const r = plan.kind === 'ignore-range' ? null : /^bytes=(\d+)-$/.exec(range ?? '');
    const start = r ? Number(r[1]) : 0;
    if (start >= size) return void res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
    let body = Buffer.from(image.subarray(start));
    if (plan.kind === 'extra') body = Buffer.concat([body, Buffer.alloc(plan.bytes, 0x20)]);
    const headers: Record<string, string> = r ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {};
    if (plan.kind !== 'extra' || plan.announce) headers['content-length'] = String(body.byteLength);
    res.writeHead(r ? 206 : 200, headers);
    const limit =
      plan.kind === 'cut' || plan.kind === 'stall' || plan.kind === 'drip' ? Math.min(plan.after, body.byteLength) : body.byteLength;
    let at = 0;
    const write = (end: number): boolean => {
      const ok = res.write(body.subarray(at, end));
      record.sent += end - at;
      at = end;
      return ok;
    };
    const pump = (): void => {
      while (at < limit) {
        if (!write(Math.min(at + CHUNK, limit))) return void res.once('drain', pump);
      }
      if (plan.kind === 'cut') res.write(Buffer.alloc(0), () => res.socket?.destroy());
      else if (plan.kind === 'drip') drip(plan);
      else if (plan.kind !== 'stall') res.end();
      // stall: the response stays open without another byte until the client gives up.
    };
    const drip = (p: { perTick: number; tickMs: number }): void => {
      const timer = setInterval(() => {
        if (record.closed) return void clearInterval(timer);
        write(Math.min(at + p.perTick, body.byteLength));
        if (at < body.byteLength) return;
        clearInterval(timer);
        res.end();
      }, p.tickMs);
      res.once('close', () => clearInterval(timer));
    };
    pump();
  }

  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  self.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return self;
}
