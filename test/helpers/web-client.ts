/**
 * A client of web mode for integration tests: plain HTTP(S) requests with any headers (a
 * forged Host included), sign-in, WebSockets and their messages.
 */
import type { IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import WebSocket from 'ws';

/** An answer: status, headers and the body as text. */
export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Where the server listens: its port on 127.0.0.1, and its certificate when it speaks TLS. */
export interface Target {
  port: number;
  ca?: string;
}

/** One request to 127.0.0.1 over HTTP, or HTTPS trusting `target.ca`. */
export function httpCall(
  target: Target,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<HttpReply> {
  const payload = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const opts = { host: '127.0.0.1', port: target.port, path, method: o.method ?? 'GET', headers: o.headers ?? {} };
    const onRes = (res: IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    };
    const req = target.ca ? httpsRequest({ ...opts, ca: target.ca }, onRes) : httpRequest(opts, onRes);
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Signs in (POST /api/login as JSON); resolves with the cookie pair "pc_session=…", or throws with the answer. */
export async function signIn(target: Target, name: string, password: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await httpCall(target, '/api/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: { name, password, ...extra },
  });
  const cookie = ([] as string[]).concat(r.headers['set-cookie'] ?? [])[0]?.split(';')[0];
  if (r.status !== 200 || !cookie) throw new Error(`sign-in as ${name}: ${r.status} ${r.body}`);
  return cookie;
}

/** Opens a WebSocket to /api; resolves with it, or with the refusal status of the upgrade. */
export function openSocket(target: Target, headers: Record<string, string> = {}): Promise<{ ws: WebSocket | null; status: number | null }> {
  return new Promise((resolve) => {
    const s = new WebSocket(`${target.ca ? 'wss' : 'ws'}://127.0.0.1:${target.port}/api`, {
      headers,
      ...(target.ca ? { ca: target.ca } : {}),
    });
    s.on('open', () => resolve({ ws: s, status: 101 }));
    s.on('unexpected-response', (_req, res) => resolve({ ws: null, status: res.statusCode ?? null }));
    s.on('error', () => resolve({ ws: null, status: null }));
  });
}

/** A server message, parsed. */
export type WireMessage = {
  type: string;
  id?: number;
  name?: string;
  payload?: unknown;
  result?: unknown;
  error?: { code: string; message: string };
};

/** The next message matching `pick`. */
export function nextMessage(ws: WebSocket, pick: (m: WireMessage) => boolean = () => true): Promise<WireMessage> {
  return new Promise((resolve) => {
    const on = (d: WebSocket.RawData) => {
      const m = JSON.parse(d.toString()) as WireMessage;
      if (!pick(m)) return;
      ws.off('message', on);
      resolve(m);
    };
    ws.on('message', on);
  });
}

let nextId = 1;

/** One command over the socket; resolves with its result envelope. */
export async function rpc(
  ws: WebSocket,
  name: string,
  request: unknown = {},
): Promise<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }> {
  const id = nextId++;
  const answer = nextMessage(ws, (m) => m.type === 'result' && m.id === id);
  ws.send(JSON.stringify({ type: 'call', id, name, request }));
  return (await answer).result as { ok: boolean; value?: unknown; error?: { code: string; message: string } };
}

/** The close of a socket: code and reason. */
export function closedWith(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
}
