/** Result envelope, transport and bridge interfaces, and WebSocket wire messages (web mode). */
import { z } from 'zod';
import type { CommandName, EventName } from './channels';
import type { CommandRequest, CommandResponse } from './commands';
import type { Caller, Role } from './contract/values';
import type { EventPayload } from './events';

/**
 * Error codes an API call can answer with. UNAUTHENTICATED: nobody is signed in and this
 * console shows nothing without sign-in; PIN_REQUIRED / BAD_PIN / LOCKED_OUT: the confirmation
 * of a change needs the signed-in account's PIN (src-main/auth/confirm-gate.ts).
 */
export type ApiErrorCode =
  | 'BAD_REQUEST'
  | 'UNKNOWN_COMMAND'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  | 'UNAUTHENTICATED'
  | 'PIN_REQUIRED'
  | 'BAD_PIN'
  | 'LOCKED_OUT';

export type Result<T> = { ok: true; value: T } | { ok: false; error: { code: ApiErrorCode | string; message: string } };

export type TransportStatus = 'connecting' | 'connected' | 'disconnected';

/** What the renderer is given: IPC (Electron) or WebSocket (web mode) behind one interface. */
export interface Transport {
  readonly kind: 'ipc' | 'websocket';
  call<K extends CommandName>(name: K, request: CommandRequest<K>): Promise<Result<CommandResponse<K>>>;
  subscribe<E extends EventName>(name: E, handler: (payload: EventPayload<E>) => void): () => void;
  onStatus(handler: (status: TransportStatus) => void): () => void;
}

// ---------------------------------------------------------------------------------------------
// Signing in: the same shapes over IPC (the Electron window) and web mode (/api/login|session)

/** A session as the window may see it (never the token). */
export interface SessionView {
  id: string;
  user: string;
  role: Role;
  origin: 'local' | 'remote';
  createdAt: number;
  expiresAt: number;
  /** When it locks for inactivity unless a person uses the console before (null: never). */
  idleExpiresAt: number | null;
  /** The inactivity that locks it (null: none); absent from older servers. */
  idleLockMs?: number | null;
}

/** Who this window is: whether it must sign in to see anything, its session, and the caller it acts as. */
export interface AuthStateReply {
  loginRequired: boolean;
  session: SessionView | null;
  /** Null when nothing may be seen without sign-in. */
  caller: Caller | null;
}

/** The answer to a sign-in. */
export type LoginReply = { ok: true; session: SessionView } | { ok: false; code: string; message: string; retryAfterMs: number };

/** Why the window's session ended (IPC event `AUTH_CHANNELS.ended`). */
export interface SessionEnded {
  /** auth/session-types.ts SessionEndReason: 'idle-lock', 'logout', 'absolute-limit', … */
  reason: string;
  /** In words, for the lock screen. */
  message: string;
}

/** A sign-in request, checked on arrival (IPC) with the same limits as web mode's /api/login. */
export const LoginRequestSchema = z
  .object({ name: z.string().max(200), password: z.string().max(1024), joinCode: z.string().max(32).optional() })
  .strict();

/** Signing in the Electron window: the preload's `window.plantConsole.auth`. */
export interface AuthBridge {
  login(request: z.input<typeof LoginRequestSchema>): Promise<LoginReply>;
  logout(): Promise<{ ok: boolean; ended: boolean }>;
  session(): Promise<AuthStateReply>;
  /** A person used the window (pointer, keys, touch): keeps the session from locking. */
  activity(): Promise<{ ok: boolean }>;
  onEnded(handler: (ended: SessionEnded) => void): () => void;
  /** First start: is there no administrator account yet (src-main/api/ipc-setup.ts)? */
  setupStatus?(): Promise<Result<{ setupNeeded: boolean }>>;
  /** First start: creates the first administrator account (it does not sign in). */
  setup?(request: { name: string; password: string; pin?: string }): Promise<Result<{ name: string; role: string; hasPin: boolean }>>;
}

/** The object the preload puts on `window.plantConsole`: task-level methods only. */
export type Bridge = {
  [K in CommandName]: (request: CommandRequest<K>) => Promise<Result<CommandResponse<K>>>;
} & {
  on<E extends EventName>(name: E, handler: (payload: EventPayload<E>) => void): () => void;
  auth: AuthBridge;
};

// ---------------------------------------------------------------------------------------------
// WebSocket wire messages (web mode)

export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('call'), id: z.number().int().nonnegative(), name: z.string(), request: z.unknown() }),
  z.object({ type: z.literal('subscribe'), name: z.string() }),
  z.object({ type: z.literal('unsubscribe'), name: z.string() }),
  /** A person used the page (pointer, keys, touch): keeps the session from locking; sent at most every 30 s. */
  z.object({ type: z.literal('activity') }).strict(),
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

export type ServerMessage =
  | { type: 'result'; id: number; result: Result<unknown> }
  | { type: 'event'; name: EventName; payload: unknown }
  | { type: 'error'; error: { code: string; message: string } };
