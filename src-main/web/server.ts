/**
 * Web mode: the built renderer over HTTP, the console API over a WebSocket at /api, and
 * GET /healthz. The same server will carry remote support sessions once authentication exists;
 * until then it refuses to listen anywhere but loopback.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer } from 'ws';
import type { ConsoleApi } from '../api/service';
import type { Caller } from '../../src-preload/contract';
import { ConsoleError } from '../core/errors';
import type { Logger } from '../core/log';
import type { PlantCore } from '../core/plant';
import { attachWebSocketAdapter } from './ws-adapter';

/** The Content-Security-Policy sent with every page (also set as a meta tag in index.html). */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
};

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** True for addresses of this machine only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export interface WebServerOptions {
  api: ConsoleApi;
  core: PlantCore;
  host: string;
  port: number;
  staticDir: string;
  log: Logger;
  /** The caller every loopback connection acts as (until login exists). */
  caller?: Caller;
}

export interface WebServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

/** Resolves a URL path inside staticDir, or null when it would escape it. */
function staticPath(staticDir: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const full = normalize(join(staticDir, decoded));
  if (full !== staticDir && !full.startsWith(staticDir + sep)) return null;
  return full;
}

/** Starts the HTTP + WebSocket server; loopback only until authentication exists. */
export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  if (!isLoopbackHost(opts.host)) {
    throw new ConsoleError(
      'BAD_REQUEST',
      `Refusing to listen on ${opts.host}: web mode is loopback-only until login and TLS exist. Use --host 127.0.0.1.`,
    );
  }
  const staticDir = resolve(opts.staticDir);
  if (!existsSync(join(staticDir, 'index.html'))) {
    throw new ConsoleError('UNAVAILABLE', `The console UI is not built (${join(staticDir, 'index.html')} missing): run "npm run build".`);
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed\n');
      return;
    }
    if (url.pathname === '/healthz') {
      send(res, 200, 'application/json', JSON.stringify(opts.core.health()));
      return;
    }
    let file = staticPath(staticDir, url.pathname);
    if (file === null) {
      send(res, 400, 'text/plain; charset=utf-8', 'Bad path\n');
      return;
    }
    if (!existsSync(file) || statSync(file).isDirectory()) {
      // Unknown paths without an extension are routes of the single-page app.
      if (extname(url.pathname) !== '') {
        send(res, 404, 'text/plain; charset=utf-8', 'Not found\n');
        return;
      }
      file = join(staticDir, 'index.html');
    }
    const type = MIME[extname(file)] ?? 'application/octet-stream';
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': type,
      'Cache-Control': file.endsWith('index.html') ? 'no-store' : 'public, max-age=3600',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const caller = opts.caller;
  const adapter = attachWebSocketAdapter({ wss, api: opts.api, log: opts.log, ...(caller ? { callerFor: () => caller } : {}) });

  server.on('upgrade', (req, socket, head) => {
    const reject = (status: number, why: string) => {
      opts.log.log('warn', `WebSocket refused: ${why}`, { origin: req.headers.origin, host: req.headers.host });
      socket.end(`HTTP/1.1 ${status} ${why}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/api') return reject(404, 'Not Found');
    // DNS rebinding: the Host must be this machine.
    const host = req.headers.host ?? '';
    const hostName = host.replace(/:\d+$/, '');
    if (!isLoopbackHost(hostName)) return reject(403, 'Forbidden host');
    // Cross-site WebSocket hijacking: a page from elsewhere must not drive the console.
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let ok = false;
      try {
        const o = new URL(origin);
        ok = (o.protocol === 'http:' || o.protocol === 'https:') && o.host === host;
      } catch {
        ok = false;
      }
      if (!ok) return reject(403, 'Forbidden origin');
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(opts.port, opts.host, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${hostForUrl}:${port}/`;
  opts.log.log('info', `Web mode listening on ${url}`);

  return {
    url,
    port,
    async close() {
      adapter.close();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
