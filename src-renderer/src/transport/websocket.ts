/**
 * The console API over one WebSocket (web mode): calls matched to results by id, event
 * subscriptions re-sent after every reconnect, reconnect with exponential backoff and jitter.
 * A close with code 4401 means the session ended: the transport then stops reconnecting
 * until told to `open()` again (after a new sign-in), and says why to `onClosed` listeners.
 */
import { SESSION_ENDED_CLOSE, type CommandName, type EventName } from '../../../src-preload/channels';
import type {
  ClientMessage,
  CommandRequest,
  CommandResponse,
  EventPayload,
  Result,
  Transport,
  TransportStatus,
} from '../../../src-preload/contract';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from './backoff';
import { parseServerMessage } from './wire';

/** The part of the WHATWG WebSocket this transport uses (the `ws` package has it too). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

export interface WebSocketTransportOptions {
  /** Opens a socket; defaults to the browser's WebSocket. */
  createSocket?: (url: string) => SocketLike;
  /** A call without an answer within this time resolves to UNAVAILABLE. */
  callTimeoutMs?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  log?: (message: string, detail?: unknown) => void;
  /** Do not connect until `open()` (web mode asks first whether a sign-in is needed). */
  lazy?: boolean;
}

export { SESSION_ENDED_CLOSE };

/** A transport that can also be shut down (tests, page unload). */
export interface ClosableTransport extends Transport {
  close(): void;
  /** (Re)connects now: after a sign-in, so the new connection carries the session cookie. */
  open(): void;
  /** Disconnects and stops reconnecting until `open()`. */
  halt(): void;
  /** Calls `handler` when the server closed the connection, with its code and reason. */
  onClosed(handler: (code: number, reason: string) => void): () => void;
  /** Tells the console a person is using the page (keeps a signed-in session from locking); dropped while not connected. */
  activity(): void;
}

const OPEN = 1;

function unavailable<T>(message: string): Result<T> {
  return { ok: false, error: { code: 'UNAVAILABLE', message } };
}

const defaultSocket = (url: string): SocketLike => new WebSocket(url) as unknown as SocketLike;

interface Pending {
  name: string;
  resolve: (r: Result<unknown>) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Connects to `url` (ws:// or wss://) at once and keeps reconnecting until `close()`. */
export function createWebSocketTransport(url: string, opts: WebSocketTransportOptions = {}): ClosableTransport {
  const createSocket = opts.createSocket ?? defaultSocket;
  const callTimeoutMs = opts.callTimeoutMs ?? 15_000;
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const random = opts.random ?? Math.random;
  const log = opts.log ?? ((message: string, detail?: unknown): void => console.warn(`[transport] ${message}`, detail ?? ''));

  let socket: SocketLike | null = null;
  let status: TransportStatus = 'connecting';
  let attempt = 0;
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  let halted = opts.lazy === true;
  let nextId = 1;
  const closedHandlers = new Set<(code: number, reason: string) => void>();
  const pending = new Map<number, Pending>();
  const handlers = new Map<EventName, Set<(payload: unknown) => void>>();
  const statusHandlers = new Set<(s: TransportStatus) => void>();

  function setStatus(next: TransportStatus): void {
    if (next === status) return;
    status = next;
    for (const h of [...statusHandlers]) h(next);
  }

  function send(msg: ClientMessage): boolean {
    if (!socket || socket.readyState !== OPEN) return false;
    try {
      socket.send(JSON.stringify(msg));
      return true;
    } catch (err) {
      log('send failed', err);
      return false;
    }
  }

  function failPending(reason: string): void {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      pending.delete(id);
      p.resolve(unavailable(`${p.name}: ${reason}`));
    }
  }

  function onMessage(data: unknown): void {
    const parsed = parseServerMessage(data);
    if ('error' in parsed) {
      log(`ignored a malformed message (${parsed.error})`);
      return;
    }
    const msg = parsed.message;
    switch (msg.type) {
      case 'result': {
        const p = pending.get(msg.id);
        if (!p) return; // timed out already, or not ours
        pending.delete(msg.id);
        clearTimeout(p.timer);
        p.resolve(msg.result);
        return;
      }
      case 'event': {
        const set = handlers.get(msg.name);
        if (!set) return;
        for (const h of [...set]) {
          try {
            h(msg.payload);
          } catch (err) {
            log(`handler of ${msg.name} threw`, err);
          }
        }
        return;
      }
      case 'error':
        log(`server error ${msg.error.code}: ${msg.error.message}`);
        return;
      default: {
        const never: never = msg;
        return never;
      }
    }
  }

  function scheduleReconnect(): void {
    if (closed || halted || reconnectTimer) return;
    const delay = backoffDelay(attempt++, backoff, random);
    reconnectTimer = setTimeout(connect, delay);
  }

  function connect(): void {
    reconnectTimer = null;
    if (closed || halted) return;
    setStatus('connecting');
    let ws: SocketLike;
    try {
      ws = createSocket(url);
    } catch (err) {
      log('cannot open the WebSocket', err);
      setStatus('disconnected');
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.onopen = () => {
      if (socket !== ws) return;
      attempt = 0;
      // Subscriptions live on the server per connection: a new connection needs them again.
      for (const name of handlers.keys()) send({ type: 'subscribe', name });
      setStatus('connected');
    };
    ws.onmessage = (ev) => {
      if (socket === ws) onMessage(ev.data);
    };
    ws.onerror = () => {
      // A close event always follows; reconnect is handled there.
    };
    ws.onclose = (ev) => {
      if (socket !== ws) return;
      socket = null;
      const code = ev.code ?? 1006;
      // The session ended: reconnecting would only be refused; whoever signs in again calls open().
      if (code === SESSION_ENDED_CLOSE) halted = true;
      failPending(code === SESSION_ENDED_CLOSE ? (ev.reason ?? 'session ended') : 'connection to the console core lost');
      setStatus('disconnected');
      for (const h of [...closedHandlers]) h(code, ev.reason ?? '');
      scheduleReconnect();
    };
  }

  function drop(): void {
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    const ws = socket;
    socket = null;
    failPending('transport closed');
    try {
      ws?.close(1000, 'closed');
    } catch {
      // Already closing.
    }
  }

  if (!halted) connect();

  return {
    kind: 'websocket',
    call<K extends CommandName>(name: K, request: CommandRequest<K>): Promise<Result<CommandResponse<K>>> {
      if (status !== 'connected' || !socket) {
        return Promise.resolve(unavailable<CommandResponse<K>>(`${name}: not connected to the console core`));
      }
      const id = nextId++;
      return new Promise<Result<CommandResponse<K>>>((resolve) => {
        const done = resolve as (r: Result<unknown>) => void;
        const timer = setTimeout(() => {
          pending.delete(id);
          done(unavailable(`${name}: no answer within ${callTimeoutMs} ms`));
        }, callTimeoutMs);
        pending.set(id, { name, resolve: done, timer });
        if (!send({ type: 'call', id, name, request })) {
          clearTimeout(timer);
          pending.delete(id);
          done(unavailable(`${name}: not connected to the console core`));
        }
      });
    },
    subscribe<E extends EventName>(name: E, handler: (payload: EventPayload<E>) => void): () => void {
      const h = handler as (payload: unknown) => void;
      let set = handlers.get(name);
      if (!set) {
        set = new Set();
        handlers.set(name, set);
        send({ type: 'subscribe', name });
      }
      set.add(h);
      return () => {
        const s = handlers.get(name);
        if (!s?.delete(h) || s.size > 0) return;
        handlers.delete(name);
        send({ type: 'unsubscribe', name });
      };
    },
    onStatus(handler: (s: TransportStatus) => void): () => void {
      statusHandlers.add(handler);
      handler(status);
      return () => {
        statusHandlers.delete(handler);
      };
    },
    close(): void {
      closed = true;
      drop();
      setStatus('disconnected');
    },
    open(): void {
      if (closed) return;
      halted = false;
      attempt = 0;
      drop();
      connect();
    },
    halt(): void {
      halted = true;
      drop();
      setStatus('disconnected');
    },
    onClosed(handler: (code: number, reason: string) => void): () => void {
      closedHandlers.add(handler);
      return () => {
        closedHandlers.delete(handler);
      };
    },
    activity(): void {
      send({ type: 'activity' });
    },
  };
}
