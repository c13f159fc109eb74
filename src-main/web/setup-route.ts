/**
 * POST /api/setup: the first administrator account of a configured plant, created from the
 * browser on the console PC itself (auth/setup.ts has the rule; the Electron window uses
 * api/ipc-setup.ts).
 *
 * Only the local console may do this, because until it is done anyone who reaches the route
 * could make themselves admin. So the route answers only when the server is bound to loopback
 * and the client is on loopback too, with a loopback Host (a DNS-rebound name is refused, so a
 * web page elsewhere cannot reach it through the browser), with JSON from this origin (checked
 * by WebAuth, and the Origin header must be there), rate-limited per source with the sign-in
 * bucket. A console bound beyond loopback never offers it: the log line says to use
 * `plant-console user add` instead. The route does not sign in; the page signs in afterwards
 * with the new account like any other sign-in (/api/login).
 */
import type { IncomingMessage } from 'node:http';
import type { Account } from '../auth/accounts';
import type { FirstStartSetup } from '../auth/setup';
import { ConsoleError } from '../core/errors';
import type { Logger } from '../core/log';
import { clientAddress, isLoopbackAddress, isLoopbackHostHeader, readBody } from './http-util';

/** What the route needs of WebAuth. */
export interface SetupRouteContext {
  setup: FirstStartSetup | null | undefined;
  /** The server itself is bound to loopback (WebAuth's `localClients`). */
  localClients: boolean;
  /** The source's sign-in rate limit. */
  take(): { ok: true } | { ok: false; retryAfterMs: number };
  log: Logger;
}

type JsonReply = (status: number, body: unknown, extra?: Record<string, string>) => void;

function fromConsolePc(req: IncomingMessage, localClients: boolean): boolean {
  return localClients && isLoopbackAddress(clientAddress(req)) && isLoopbackHostHeader(req.headers.host);
}

/** True when this request's client is offered setup now (GET /api/session says `setupNeeded`). */
export function setupOfferedTo(req: IncomingMessage, ctx: Pick<SetupRouteContext, 'setup' | 'localClients'>): boolean {
  return !!ctx.setup && fromConsolePc(req, ctx.localClients) && ctx.setup.needed();
}

/** Answers POST /api/setup (method, same origin and JSON were checked by WebAuth). */
export async function handleSetup(req: IncomingMessage, json: JsonReply, ctx: SetupRouteContext): Promise<void> {
  const source = clientAddress(req);
  if (!fromConsolePc(req, ctx.localClients) || req.headers.origin === undefined) {
    ctx.log.log('warn', 'First-start setup refused: not from the console PC', { source, host: req.headers.host });
    json(403, {
      ok: false,
      code: 'SETUP_LOCAL_ONLY',
      message: 'The first administrator account can only be created on the console PC itself, or with "plant-console user add"',
    });
    return;
  }
  const rate = ctx.take();
  if (!rate.ok) {
    const s = Math.max(1, Math.ceil(rate.retryAfterMs / 1000));
    json(
      429,
      { ok: false, code: 'RATE_LIMITED', message: `Too many attempts — try again in ${s} s`, retryAfterMs: rate.retryAfterMs },
      { 'Retry-After': String(s) },
    );
    return;
  }
  const setup = ctx.setup;
  if (!setup?.needed()) {
    json(409, { ok: false, code: 'SETUP_DONE', message: 'An administrator account exists already: sign in with it' });
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(await readBody(req, 8 * 1024));
  } catch {
    json(400, { ok: false, code: 'BAD_REQUEST', message: 'The setup request is not valid JSON' });
    return;
  }
  let account: Account;
  try {
    account = await setup.create(body, { user: null, role: null, origin: 'local', sessionId: null }, { via: 'web', source });
  } catch (err) {
    if (err instanceof ConsoleError && err.code === 'BAD_REQUEST') {
      json(400, { ok: false, code: 'BAD_REQUEST', message: err.message });
      return;
    }
    if (err instanceof ConsoleError && err.code === 'FORBIDDEN') {
      json(409, { ok: false, code: 'SETUP_DONE', message: err.message });
      return;
    }
    throw err;
  }
  json(200, { ok: true, account: { name: account.name, role: account.role, hasPin: account.hasPin } });
}

/** The one line `serve` logs while no admin exists (null when there is nothing to say). */
export function setupHint(opts: { needed: boolean; url: string; loopbackBound: boolean; dataDir: string }): string | null {
  if (!opts.needed) return null;
  const cli = `plant-console user add --data-dir ${opts.dataDir} --name NAME --role admin`;
  return opts.loopbackBound
    ? `No administrator account yet: open ${opts.url} on this PC to create one, or run ${cli}`
    : `No administrator account yet: web mode on ${opts.url} is reachable beyond this PC, so it does not offer setup; on this PC run ${cli}`;
}
