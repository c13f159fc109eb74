/**
 * The WebSocket transport of the console API: one JSON message per frame, every message
 * schema-checked, every call answered with a result envelope, events pushed to subscribers.
 * Who a connection acts as is asked again before every message (ConnectionIdentity), so a
 * session that ended or locked stops being served even before its socket is closed. Only a
 * person keeps a session open: the page's `activity` message, or a command that changes
 * something; reading and event streams do not.
 */
import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { ClientMessageSchema, EVENT_NAMES, type Caller, type EventName, type ServerMessage } from '../../src-preload/contract';
import type { ConsoleApi } from '../api/service';
import { isActivityCommand } from '../auth/session-types';
import { ConsoleError } from '../core/errors';
import type { Logger } from '../core/log';

/** Messages per second a connection may send before it is closed (a UI sends a few). */
const RATE_PER_S = 50;
const BURST = 200;
/** A client that cannot keep up gets no more events until its buffer drains. */
const MAX_BUFFERED = 1024 * 1024;

/** A token bucket; pure so it is testable. */
export function createRateLimiter(ratePerS: number, burst: number, now: () => number = Date.now) {
  let tokens = burst;
  let last = now();
  return {
    take(): boolean {
      const t = now();
      tokens = Math.min(burst, tokens + ((t - last) / 1000) * ratePerS);
      last = t;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

const knownEvents = new Set<string>(EVENT_NAMES);

/** Who a connection acts as; web-auth.ts provides it for signed-in sessions. */
export interface ConnectionIdentity {
  /** The signed-in session the connection belongs to (none: the local viewer without sign-in). */
  sessionId?: string;
  /** The caller of the next message, or the close code and reason when the connection may no longer be served. */
  current(): { caller: Caller } | { close: { code: number; reason: string } };
  /** A message of the session's shared rate limit; false closes the connection. */
  take?(): boolean;
  /** A person used the page, or asked for a change: the session stays open. */
  activity?(): void;
  /** Called once with the socket, so the session can close it when it ends. */
  attach?(ws: WebSocket): void;
}

/** A connection that acts as one fixed caller for its whole life (a loopback console without sign-in). */
export function fixedIdentity(caller: Caller): ConnectionIdentity {
  return { current: () => ({ caller }) };
}

/** Closes a connection nobody identified: it acts as nobody rather than as a default. */
const UNIDENTIFIED_CLOSE = { code: 1008, reason: 'connection not identified' } as const;

/** Wires `wss` connections to the API; returns a handle to stop forwarding events. */
export function attachWebSocketAdapter(opts: {
  wss: WebSocketServer;
  api: ConsoleApi;
  log: Logger;
  /**
   * Who a connection acts as: the identity its upgrade established (server.ts), or undefined to
   * close it. Required, with no fallback: a forgotten resolver must not grant anyone's rights.
   */
  identify: (req: IncomingMessage) => ConnectionIdentity | undefined;
}): { close(): void; stats(): { dropped: number; refused: number } } {
  const { wss, api, log } = opts;
  // Plain JavaScript callers get no compile error: refuse at once rather than serve as anyone.
  if (typeof opts.identify !== 'function') {
    throw new ConsoleError('BAD_REQUEST', 'The WebSocket adapter needs identify: who a connection acts as is never assumed');
  }
  let dropped = 0;
  let refused = 0;
  const cleanups = new Set<() => void>();

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const identity = opts.identify(req);
    if (!identity) {
      log.log('warn', 'WebSocket closed: the connection was not identified');
      ws.close(UNIDENTIFIED_CLOSE.code, UNIDENTIFIED_CLOSE.reason);
      return;
    }
    identity.attach?.(ws);
    const first = identity.current();
    if ('close' in first) {
      ws.close(first.close.code, first.close.reason);
      return;
    }
    let caller: Caller = first.caller;
    const limiter = createRateLimiter(RATE_PER_S, BURST);
    const subs = new Map<EventName, () => void>();
    const sendMsg = (msg: ServerMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    const protocolError = (message: string) => {
      refused++;
      log.log('warn', `WebSocket message refused: ${message}`, { user: caller.user });
      sendMsg({ type: 'error', error: { code: 'BAD_REQUEST', message } });
    };
    const cleanup = () => {
      for (const off of subs.values()) off();
      subs.clear();
      cleanups.delete(cleanup);
    };
    cleanups.add(cleanup);

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (ws.readyState !== ws.OPEN) return;
      if (!limiter.take() || identity.take?.() === false) {
        log.log('warn', 'WebSocket closed: too many messages', { user: caller.user });
        ws.close(1008, 'rate limit exceeded');
        return;
      }
      const who = identity.current();
      if ('close' in who) {
        ws.close(who.close.code, who.close.reason);
        return;
      }
      caller = who.caller;
      if (isBinary) return protocolError('binary frames are not accepted');
      let parsedJson: unknown;
      try {
        parsedJson = JSON.parse(data.toString());
      } catch {
        return protocolError('message is not valid JSON');
      }
      const parsed = ClientMessageSchema.safeParse(parsedJson);
      if (!parsed.success) {
        return protocolError(parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; '));
      }
      const msg = parsed.data;
      switch (msg.type) {
        case 'call':
          if (isActivityCommand(msg.name)) identity.activity?.();
          void api.handle(caller, msg.name, msg.request).then((result) => sendMsg({ type: 'result', id: msg.id, result }));
          return;
        case 'activity':
          identity.activity?.();
          return;
        case 'subscribe': {
          if (!knownEvents.has(msg.name)) return protocolError(`unknown event stream "${msg.name}"`);
          const name = msg.name as EventName;
          if (subs.has(name)) return;
          let off: () => void;
          try {
            // The API gates the stream as the command listing the same data, now and at every event, for the connection's caller then.
            off = api.subscribe(
              name,
              (payload) => {
                if (ws.bufferedAmount > MAX_BUFFERED) {
                  dropped++;
                  return;
                }
                sendMsg({ type: 'event', name, payload });
              },
              () => caller,
            );
          } catch (err) {
            if (!(err instanceof ConsoleError)) throw err;
            refused++;
            sendMsg({ type: 'error', error: { code: err.code, message: err.message } });
            return;
          }
          subs.set(name, off);
          return;
        }
        case 'unsubscribe': {
          const off = subs.get(msg.name as EventName);
          off?.();
          subs.delete(msg.name as EventName);
          return;
        }
      }
    });
    ws.on('close', cleanup);
    ws.on('error', (err) => {
      log.log('warn', `WebSocket error: ${err.message}`);
      cleanup();
    });
  });

  return {
    close() {
      for (const c of [...cleanups]) c();
    },
    stats: () => ({ dropped, refused }),
  };
}
