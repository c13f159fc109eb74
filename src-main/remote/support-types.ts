/**
 * The types and words of remote support grants, and the rule for a console restart.
 *
 * Restart rule (with a store, grant-store.ts), written for a security auditor:
 * - the site's consent survives: a grant still within its time comes back after a restart, and
 *   a live one shows its banner on site again, with its original end time (a restart never
 *   extends a grant);
 * - a join code already used stays used, an unused one stays valid only until its expiry (its
 *   keyed hash and the key are in the store, the code itself nowhere);
 * - a supplier's sign-in is never silently kept: at shutdown (or, after a crash, at the next
 *   start) the remote person's session ends and the cut is audited (`remote_action`
 *   `interrupted`, with the session id). The grant stays, visible and endable on site, but
 *   nobody is in it: the person gets back in only with a new join code, which means someone on
 *   site grants the session again (that replaces the interrupted grant). Their pending change
 *   requests expire (requests.ts): nobody can answer for a request of a session that is over;
 * - a grant whose time ran out, or whose account was disabled, while the console was down ends
 *   at the start, audited like any other end.
 * Without a store (tests, tools) grants live in memory and `close` ends them all.
 */
import type { RemoteGrant } from '../../src-preload/contract';
import type { AuditActor, AuditSink } from '../audit/record';
import type { SessionEndReason } from '../auth/session-types';
import type { Logger } from '../core/log';
import type { Clock } from '../core/types';
import type { RemotePersistence } from './grant-store';

/** What remote support needs of the AuthService. */
export interface RemoteAuth {
  endSession(sessionId: string, reason: SessionEndReason, by?: AuditActor): boolean;
  onSessionEnded(handler: (sessionId: string, user: string, reason: SessionEndReason) => void): () => void;
}

/** What remote support needs of the accounts. */
export interface RemoteAccounts {
  get(name: string): { name: string; role: string; disabled: boolean; hasPin: boolean } | undefined;
}

/** Options of RemoteSupport; durations in ms. */
export interface RemoteSupportOptions {
  auth: RemoteAuth;
  accounts: RemoteAccounts;
  /** Machines a grant may name. */
  hasMachine: (id: string) => boolean;
  audit?: AuditSink;
  clock?: Clock;
  log?: Logger;
  defaultDurationMs?: number;
  maxDurationMs?: number;
  codeTtlMs?: number;
  maxJoinFailures?: number;
  /** Check expiries on a timer (default true; tests call `sweep`). */
  timers?: boolean;
  sweepMs?: number;
  /** Keeps grants across restarts (grant-store.ts); without it they live in memory. */
  store?: RemotePersistence;
}

/** A grant with what only the service sees. */
export interface GrantRec extends RemoteGrant {
  codeHash: Buffer | null;
  failures: number;
}

/** The outcome of a join attempt (web-auth.ts answers the login with it). */
export type JoinResult =
  { ok: true; grant: RemoteGrant } | { ok: false; code: 'NO_GRANT' | 'JOIN_CODE_REQUIRED' | 'BAD_JOIN_CODE'; message: string };

/** Ended grants kept for the list and the summary export. */
export const KEEP_ENDED = 50;

export const END_TEXT: Record<string, string> = {
  'ended-on-site': 'ended on site',
  'time-up': 'the granted time is over',
  'signed-out': 'the support person signed out',
  'account-disabled': 'the support account was disabled',
  'code-expired': 'the join code expired unused',
  'too-many-codes': 'too many wrong join codes',
  replaced: 'replaced by a new grant',
  'session-ended': 'the sign-in session ended',
};

/** Why a live session was cut off while its grant stays. */
export const INTERRUPT_TEXT = {
  'console-stopped': 'the console stopped; re-joining needs a new join code granted on site',
  'console-restarted': 'the console restarted without stopping cleanly; re-joining needs a new join code granted on site',
} as const;
