/**
 * Web mode: the built renderer, the console API over a WebSocket at /api, sign-in at
 * /api/login|logout|session (web-auth.ts), and GET /healthz.
 *
 * On loopback it may run in clear and without login (the local console): an unsigned loopback
 * browser then sees the plant as the read-only viewer and signs in for any change. Anywhere else
 * it needs TLS and login: it never listens in clear beyond this machine, and every WebSocket
 * needs a live session. Sign-in can be required on loopback too (`requireLogin`, which the
 * console sets when access.localViewWithoutLogin is false).
 *
 * - Bound to loopback, every request (pages, /healthz, /api/*, the WebSocket) must name this
 *   machine in its Host header: a page elsewhere whose name was rebound to 127.0.0.1 (DNS
 *   rebinding) gets 403 and nothing else.
 * - GET /healthz tells anyone only whether the console runs ({"core":"running"}, 503 while it
 *   does not); machines, links and uplink need a caller who may call system.health (a signed-in
 *   session, or the local viewer on loopback), narrowed as that command is (remote grants).
 * - WebSockets are limited per session and per source address (connection-limits.ts).
 * - POST /api/firmware takes a firmware bundle streamed to the data dir (firmware-upload.ts), as
 *   WebSocket frames stop at 64 KiB; it has the API's sign-in, role and origin checks.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer } from 'ws';
import type { ConsoleApi } from '../api/service';
import type { AuthService } from '../auth/sessions';
import type { Caller } from '../../src-preload/contract';
import { ConsoleError } from '../core/errors';
import { certificateFingerprint } from './tls';
import type { Logger } from '../core/log';
import type { PlantCore } from '../core/plant';
import { clientAddress, isLoopbackHostHeader, sameOrigin } from './http-util';
import { ConnectionLimits, DEFAULT_CONNECTION_LIMITS, type ConnectionLimitOptions } from './connection-limits';
import { WebAuth, type RemoteJoiner, type WebAuthOptions } from './web-auth';
import { attachWebSocketAdapter, fixedIdentity, type ConnectionIdentity } from './ws-adapter';
import { firmwareUploadRoute } from './firmware-upload';
import { FIRMWARE_UPLOAD_PATH } from '../../src-preload/channels';

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

/** Why the SIMULATED demo is not served on `host`, and how to serve a configured plant there. */
export function demoBeyondLoopbackMessage(host: string): string {
  return (
    `Refusing to serve the SIMULATED demo plant on ${host}: its accounts and passwords are published, so it runs on this PC ` +
    `only (--host 127.0.0.1). To serve beyond this PC, run a configured plant: create its admin account with ` +
    `"plant-console user add --data-dir DIR --name NAME --role admin", then "plant-console serve --config plant.json ` +
    `--data-dir DIR --host ${host}" (README: "A plant configuration").`
  );
}

export interface WebServerOptions {
  api: ConsoleApi;
  core: PlantCore;
  host: string;
  port: number;
  staticDir: string;
  log: Logger;
  /**
   * Who a connection without a session acts as while login is not required: the console gives the
   * read-only LOCAL_VIEWER (api/service.ts); transport tests a fixed role. Required, with no
   * default, so a forgotten option is a compile error instead of someone's rights.
   */
  caller: Caller;
  /** Certificate and key: the server speaks only HTTPS and WSS. Required beyond loopback. */
  tls?: { cert: string; key: string; fingerprint?: string };
  /** Sign-in and sessions. Required beyond loopback and whenever login is required. */
  auth?: AuthService;
  /** Default: on beyond loopback, off on loopback. Beyond loopback it cannot be turned off. */
  requireLogin?: boolean;
  /** Joins supplier-support sign-ins to their grants (remote/). */
  remote?: RemoteJoiner;
  /** First-start setup (POST /api/setup, offered to the console PC only: setup-route.ts). */
  setup?: WebAuthOptions['setup'];
  /** Where firmware uploads are streamed (the data dir's `uploads`); absent: POST /api/firmware answers 503. */
  firmwareUploadDir?: string;
  /** Rate limits of sign-in and of session messages, and open WebSockets per session and source (tests make them small). */
  limits?: Pick<WebAuthOptions, 'loginRate' | 'sessionRate' | 'resumeCacheMs'> & { connections?: ConnectionLimitOptions };
}

export interface WebServer {
  url: string;
  port: number;
  /** SHA-256 fingerprint of the TLS certificate (null in clear). */
  fingerprint: string | null;
  loginRequired: boolean;
  /** The sign-in layer (null without an AuthService). */
  webAuth: WebAuth | null;
  /** Open WebSockets now, and from how many source addresses. */
  openConnections(): { sources: number; sockets: number };
  close(): Promise<void>;
}

/** HSTS only over TLS: browsers ignore it in clear, and it would pin loopback to HTTPS. */
const HSTS = { 'Strict-Transport-Security': 'max-age=31536000' };

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = SECURITY_HEADERS): void {
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Cache-Control': 'no-store' });
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

/** Starts the HTTP(S) + WebSocket server; beyond loopback only with TLS and login. */
export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  // Plain JavaScript callers get no compile error: refuse rather than guess who a browser is.
  if (!opts.caller) throw new ConsoleError('BAD_REQUEST', 'Web mode needs the caller of a connection without a session (LOCAL_VIEWER)');
  const loopback = isLoopbackHost(opts.host);
  if (!loopback && !opts.tls) {
    throw new ConsoleError(
      'BAD_REQUEST',
      `Refusing to listen on ${opts.host} in clear: without TLS web mode is loopback-only. Give a certificate (serve makes one), or use --host 127.0.0.1.`,
    );
  }
  if (!loopback && opts.requireLogin === false) {
    throw new ConsoleError(
      'BAD_REQUEST',
      `Refusing to listen on ${opts.host} without login: beyond loopback every connection must sign in.`,
    );
  }
  if (!loopback && opts.core.config.simulated) throw new ConsoleError('BAD_REQUEST', demoBeyondLoopbackMessage(opts.host));
  const loginRequired = opts.requireLogin ?? !loopback;
  if (loginRequired && !opts.auth) throw new ConsoleError('BAD_REQUEST', 'Login is required but no sign-in service was given');
  const staticDir = resolve(opts.staticDir);
  if (!existsSync(join(staticDir, 'index.html'))) {
    throw new ConsoleError('UNAVAILABLE', `The console UI is not built (${join(staticDir, 'index.html')} missing): run "npm run build".`);
  }

  const headers: Record<string, string> = opts.tls ? { ...SECURITY_HEADERS, ...HSTS } : SECURITY_HEADERS;
  const localCaller = opts.caller;
  const webAuth = opts.auth
    ? new WebAuth({
        auth: opts.auth,
        loginRequired,
        tls: opts.tls !== undefined,
        localClients: loopback,
        localCaller,
        log: opts.log,
        ...(opts.remote ? { remote: opts.remote } : {}),
        ...(opts.setup ? { setup: opts.setup } : {}),
        ...(opts.limits?.loginRate ? { loginRate: opts.limits.loginRate } : {}),
        ...(opts.limits?.sessionRate ? { sessionRate: opts.limits.sessionRate } : {}),
        ...(opts.limits?.resumeCacheMs !== undefined ? { resumeCacheMs: opts.limits.resumeCacheMs } : {}),
      })
    : null;

  const upload = opts.firmwareUploadDir
    ? firmwareUploadRoute({
        api: opts.api,
        dir: opts.firmwareUploadDir,
        callerOf: (req) => (webAuth ? webAuth.requestCaller(req) : localCaller),
        activity: (req) => webAuth?.requestActivity(req),
        scheme: opts.tls ? 'https' : 'http',
        log: opts.log,
      })
    : null;

  /** Whether the console runs for anyone; the detail for a caller who may call system.health. */
  const healthz = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const core = opts.core.status();
    const status = core === 'running' ? 200 : 503;
    const caller = webAuth ? webAuth.requestCaller(req) : localCaller;
    const detail = caller ? await opts.api.handle(caller, 'system.health', {}) : null;
    const body = detail?.ok ? detail.value : { core };
    send(res, status, 'application/json', req.method === 'HEAD' ? '' : JSON.stringify(body), headers);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    // DNS rebinding: a loopback console answers only requests that name this machine.
    if (loopback && !isLoopbackHostHeader(req.headers.host)) {
      opts.log.log('warn', 'HTTP request refused: foreign Host', { host: req.headers.host, path: req.url, source: clientAddress(req) });
      const refusal = {
        ok: false,
        code: 'FORBIDDEN_HOST',
        message: 'This console answers only to its own address on this PC (localhost, 127.0.0.1, ::1)',
      };
      send(res, 403, 'application/json', JSON.stringify(refusal), headers);
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === FIRMWARE_UPLOAD_PATH) {
      if (upload) upload.handle(req, res, headers);
      else
        send(
          res,
          503,
          'application/json',
          JSON.stringify({ ok: false, error: { code: 'UNAVAILABLE', message: 'Firmware upload is not set up on this console' } }),
          headers,
        );
      return;
    }
    if (webAuth?.handle(req, res, url.pathname, headers)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed\n', headers);
      return;
    }
    if (url.pathname === '/healthz') {
      healthz(req, res).catch((err: unknown) => {
        opts.log.log('error', '/healthz failed', { error: err instanceof Error ? err.message : String(err) });
        if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ core: 'unknown' }), headers);
      });
      return;
    }
    let file = staticPath(staticDir, url.pathname);
    if (file === null) {
      send(res, 400, 'text/plain; charset=utf-8', 'Bad path\n', headers);
      return;
    }
    if (!existsSync(file) || statSync(file).isDirectory()) {
      // Unknown paths without an extension are routes of the single-page app.
      if (extname(url.pathname) !== '') {
        send(res, 404, 'text/plain; charset=utf-8', 'Not found\n', headers);
        return;
      }
      file = join(staticDir, 'index.html');
    }
    const type = MIME[extname(file)] ?? 'application/octet-stream';
    res.writeHead(200, {
      ...headers,
      'Content-Type': type,
      'Cache-Control': file.endsWith('index.html') ? 'no-store' : 'public, max-age=3600',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  };
  // Beyond loopback there is no clear-text listener at all: a plain HTTP request fails the TLS handshake.
  const server = opts.tls
    ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, onRequest)
    : createServer(onRequest);

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const connections = new ConnectionLimits(opts.limits?.connections ?? DEFAULT_CONNECTION_LIMITS);
  const identities = new WeakMap<IncomingMessage, ConnectionIdentity>();
  const adapter = attachWebSocketAdapter({
    wss,
    api: opts.api,
    log: opts.log,
    // With sign-in the upgrade identified the connection; without, it acts as the given local caller.
    identify: (req) => (webAuth ? identities.get(req) : fixedIdentity(localCaller)),
  });

  server.on('upgrade', (req, socket, head) => {
    const reject = (status: number, why: string) => {
      opts.log.log('warn', `WebSocket refused: ${why}`, { origin: req.headers.origin, host: req.headers.host });
      socket.end(`HTTP/1.1 ${status} ${why}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/api') return reject(404, 'Not Found');
    // DNS rebinding: on loopback the Host must be this machine, as for every HTTP request.
    if (loopback && !isLoopbackHostHeader(req.headers.host)) return reject(403, 'Forbidden host');
    // Cross-site WebSocket hijacking: a page from elsewhere must not drive the console.
    if (!sameOrigin(req, opts.tls ? 'https' : 'http', false)) return reject(403, 'Forbidden origin');
    let sessionId: string | null = null;
    if (webAuth) {
      const identity = webAuth.identify(req);
      if (!identity) return reject(401, 'Unauthorized');
      identities.set(req, identity);
      sessionId = identity.sessionId ?? null;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      // Counted once the socket is open, so a handshake that fails leaves no count behind.
      const admitted = connections.admit(clientAddress(req), sessionId);
      if (!admitted.ok) {
        opts.log.log('warn', `WebSocket refused: ${admitted.reason}`, { source: clientAddress(req), ...(sessionId ? { sessionId } : {}) });
        ws.close(admitted.code, admitted.reason);
        // A client that never answers the close is cut off, so refused sockets cannot pile up.
        setTimeout(() => ws.terminate(), 1000).unref();
        return;
      }
      ws.once('close', admitted.release);
      wss.emit('connection', ws, req);
    });
  });

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(opts.port, opts.host, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // A wildcard address is no place to open: name this machine instead (the certificate covers its name).
  const shownHost = opts.host === '0.0.0.0' || opts.host === '::' || opts.host === '[::]' ? hostname() : opts.host;
  const hostForUrl = shownHost.includes(':') ? `[${shownHost}]` : shownHost;
  const url = `${opts.tls ? 'https' : 'http'}://${hostForUrl}:${port}/`;
  const fingerprint = opts.tls ? (opts.tls.fingerprint ?? certificateFingerprint(opts.tls.cert)) : null;
  opts.log.log('info', `Web mode listening on ${url}`, {
    tls: fingerprint !== null,
    loginRequired,
    ...(fingerprint ? { fingerprint } : {}),
  });
  opts.api.setWebInfo({ url, fingerprint });

  return {
    url,
    port,
    fingerprint,
    loginRequired,
    webAuth,
    openConnections: () => connections.open(),
    async close() {
      webAuth?.close();
      adapter.close();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
