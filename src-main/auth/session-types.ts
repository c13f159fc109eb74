/**
 * The types of sign-in and sessions that transports build on, and the token rule:
 * a token is 32 random bytes in base64url (43 characters), stored only as
 * BLAKE2b-256("plant-console/session-token/v1\0" ‖ token bytes) in lowercase hex.
 */
import type { Caller, Role } from '../../src-preload/contract';
import { domain } from '../protocol/encoding';
import { blake2b } from '../protocol/sodium';

export const TOKEN_BYTES = 32;
const TOKEN_LABEL = 'plant-console/session-token/v1';

/** Where a login comes from: `key` is the client's address, or 'local' for the console window. */
export interface LoginSource {
  key: string;
  origin: 'local' | 'remote';
}

/** A live session as callers see it (never the token). */
export interface SessionInfo {
  id: string;
  user: string;
  role: Role;
  origin: 'local' | 'remote';
  /** The source key the session signed in from. */
  source: string;
  createdAt: number;
  lastSeen: number;
  /** The absolute end. */
  expiresAt: number;
  /** Inactivity that ends the session (null: none). */
  idleLockMs: number | null;
  /** When it ends for inactivity unless used before (null: never). */
  idleExpiresAt: number | null;
}

/** The outcome of `login`. */
export type LoginResult =
  | { ok: true; token: string; session: SessionInfo }
  | { ok: false; code: 'BAD_CREDENTIALS' | 'LOCKED_OUT' | 'DISABLED'; message: string; retryAfterMs?: number };

/** The outcome of `verifyPin`. */
export type PinResult =
  { ok: true } | { ok: false; code: 'BAD_PIN' | 'NO_PIN' | 'LOCKED_OUT' | 'DISABLED'; message: string; retryAfterMs?: number };

/** Why a session ended; transports show it ("signed out: idle for 15 min"). */
export type SessionEndReason =
  | 'logout'
  | 'idle-lock'
  | 'absolute-limit'
  | 'account-disabled'
  | 'password-reset'
  | 'role-changed'
  | 'ended-by-site'
  | 'ended-by-admin'
  | 'shutdown';

/** Called when a session ends, whatever the reason. */
export type SessionEndedHandler = (sessionId: string, user: string, reason: SessionEndReason) => void;

/**
 * Commands that change something. Calling one is a person's activity and keeps the session
 * open; reading never is (a trend refreshing itself is no one at the panel). Input the UI
 * reports (AuthService.activity) covers the rest of what a person does.
 */
const ACTIVITY_COMMANDS: ReadonlySet<string> = new Set([
  'points.write',
  'points.revert',
  'alarms.ack',
  'remote.grant',
  'remote.end',
  'remote.propose',
  'remote.confirm',
  'remote.reject',
  'reco.apply',
  'reco.reject',
  'reco.defer',
  'reco.revert',
  'modules.pair',
  'firmware.import',
  'firmware.approve',
  'firmware.stop',
]);

/** True when calling `command` counts as a person's activity (it changes something). */
export function isActivityCommand(command: string): boolean {
  return ACTIVITY_COMMANDS.has(command);
}

/** The stored form of a token; null when it cannot be one of ours. */
export function sessionTokenHash(token: string): string | null {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length !== TOKEN_BYTES) return null;
  return blake2b(Buffer.concat([domain(TOKEN_LABEL), bytes]), 32).toString('hex');
}

const END_WORDS: Record<SessionEndReason, string> = {
  logout: 'you signed out',
  'idle-lock': 'locked after a time without activity',
  'absolute-limit': 'its time limit was reached',
  'account-disabled': 'the account was disabled',
  'password-reset': 'the password was changed',
  'role-changed': "the account's role changed",
  'ended-by-site': 'ended on site',
  'ended-by-admin': 'ended by an administrator',
  shutdown: 'the console is shutting down',
};

/** "Your session ended: …" in words; an idle lock of whole minutes says how many. */
export function sessionEndedWords(reason: SessionEndReason | string, idleLockMs?: number | null): string {
  const minutes = idleLockMs ? idleLockMs / 60_000 : 0;
  const words =
    reason === 'idle-lock' && Number.isInteger(minutes) && minutes >= 1
      ? `locked after ${minutes} min without activity`
      : Object.hasOwn(END_WORDS, reason)
        ? END_WORDS[reason as SessionEndReason]
        : reason;
  return `Your session ended: ${words}`;
}

/** A session as the client may see it (never the token). */
export function sessionView(s: SessionInfo) {
  return {
    id: s.id,
    user: s.user,
    role: s.role,
    origin: s.origin,
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    idleExpiresAt: s.idleExpiresAt,
    idleLockMs: s.idleLockMs,
  };
}

/** The API caller of a session, with its id for the audit log. */
export function callerOf(session: SessionInfo): Caller & { sessionId: string } {
  return { user: session.user, role: session.role, origin: session.origin, sessionId: session.id };
}
