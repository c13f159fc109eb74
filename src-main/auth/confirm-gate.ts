/**
 * The PIN re-authentication of a confirmation on the touch panel. A console left signed in
 * must not let the next person at it change the plant: a signed-in account that has a PIN
 * confirms every change with it. Accounts without a PIN pass (they signed in with their
 * password), and so do callers without a session (the transports' fixed test callers; the
 * viewer never gets this far, the role table refuses it first).
 *
 * Wrong PINs count and lock like passwords, separately from them (AuthService.verifyPin).
 * Used by points.write and points.revert (api/service.ts), the on-site confirmation of a remote
 * change (remote/requests.ts) and the recommendation decisions.
 */
import type { Caller } from '../../src-preload/contract';
import { ConsoleError } from '../core/errors';
import type { PinResult } from './session-types';

/** Checks the PIN of `caller` for one confirmation; throws PIN_REQUIRED, BAD_PIN, LOCKED_OUT or FORBIDDEN. */
export type ConfirmGate = (caller: Caller, pin: string | undefined) => Promise<void>;

/** What the gate needs of the AuthService. */
export interface PinVerifier {
  verifyPin(user: string, pin: string): Promise<PinResult>;
}

/** What the gate needs of the account store. */
export interface PinAccounts {
  get(name: string): { hasPin: boolean } | undefined | null;
}

/** The words of a missing PIN (the remote confirmation has said them since before this gate). */
export const PIN_REQUIRED_MESSAGE = 'Enter your PIN to confirm the change';

/** The confirmation gate over the sign-in service and the accounts. */
export function createConfirmGate(auth: PinVerifier, accounts: PinAccounts): ConfirmGate {
  return async (caller, pin) => {
    if (caller.sessionId === undefined) return;
    if (!accounts.get(caller.user)?.hasPin) return;
    if (pin === undefined || pin === '') throw new ConsoleError('PIN_REQUIRED', PIN_REQUIRED_MESSAGE);
    const r = await auth.verifyPin(caller.user, pin);
    if (r.ok) return;
    switch (r.code) {
      case 'BAD_PIN':
        throw new ConsoleError('BAD_PIN', r.message);
      case 'LOCKED_OUT':
        throw new ConsoleError('LOCKED_OUT', r.message);
      case 'NO_PIN':
        // The PIN was removed since it was looked up: the account confirms with its sign-in, as any without one.
        return;
      case 'DISABLED':
        throw new ConsoleError('FORBIDDEN', r.message);
    }
  };
}
