/** Sign-in lockouts in words, for the admin's panel on the audit page. */
import type { LockoutView } from '../../../src-preload/contract';
import { formatHm } from './format';

/** Who is locked out: "anna", "every account", "anna's PIN". */
export function lockoutWho(l: LockoutView): string {
  if (l.scope === 'source') return 'Every account';
  const name = l.user ?? 'A name that is no account';
  return l.scope === 'pin' ? `${name}: PIN confirmations` : name;
}

/** From where: "from 10.0.0.7", "at the console's own screen", "from every network address". */
export function lockoutWhere(l: LockoutView): string {
  if (l.scope === 'pin') return 'wherever signed in';
  if (l.scope === 'network') return 'from every network address';
  if (l.source === 'local' || l.origin === 'local') return `at this console (${l.source ?? 'local'})`;
  return `from ${l.source ?? 'an unknown address'}`;
}

/** "5 failed attempts · until 14:18 (12 min left)". */
export function lockoutWhen(l: LockoutView, now: number, tz: string): string {
  const left = Math.max(1, Math.ceil((l.lockedUntil - now) / 60_000));
  return `${l.failures} failed ${l.failures === 1 ? 'attempt' : 'attempts'} · locked at ${formatHm(l.lockedAt, tz)} until ${formatHm(l.lockedUntil, tz)} (${left} min left)`;
}

/** The question before lifting, naming what happens. */
export function liftQuestion(l: LockoutView): string {
  const who = l.scope === 'source' ? 'every account' : (l.user ?? 'this name');
  const what = l.scope === 'pin' ? `${who} can confirm changes with the PIN again` : `${who} can sign in ${lockoutWhere(l)} again`;
  return `Lift this lockout? ${what[0]!.toUpperCase()}${what.slice(1)} at once; the failed attempts are forgotten. This is recorded in the audit log.`;
}
