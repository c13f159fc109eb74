/**
 * First start of a configured plant: while no enabled administrator account exists, the
 * console's own screen offers to create one (web-mode route: web/setup-route.ts, Electron
 * window: api/ipc-setup.ts); headless plants bound beyond loopback use `plant-console user add`.
 *
 * Whoever reaches that screen could otherwise take the plant over, so the offer ends the moment
 * an admin exists: `createFirstAdmin` checks again inside, one call at a time per account store,
 * so two screens racing each other create one admin, and the other is refused. The SIMULATED
 * demo never needs it (it creates its demo accounts, an admin among them).
 */
import { z } from 'zod';
import type { AuditActor } from '../audit/record';
import { ConsoleError } from '../core/errors';
import { silentLogger, type Logger } from '../core/log';
import { normalizeUserName, type Account, type AccountStore } from './accounts';
import { MAX_PASSWORD_BYTES, MAX_PIN_LENGTH } from './passwords';

/** What the setup screen sends: the admin's name, password and an optional PIN. */
export const FirstAdminSchema = z
  .object({
    name: z.string().min(1, 'Enter a name').max(200),
    password: z.string().min(1, 'Enter a password').max(MAX_PASSWORD_BYTES),
    pin: z
      .string()
      .max(MAX_PIN_LENGTH * 4)
      .optional(),
  })
  .strict();
export type FirstAdminInput = z.infer<typeof FirstAdminSchema>;

/** What setup needs of the account store. */
export type SetupAccounts = Pick<AccountStore, 'list' | 'add'>;

/** True while no enabled admin account exists. */
export function needsSetup(accounts: Pick<AccountStore, 'list'>): boolean {
  return !accounts.list().some((a) => a.role === 'admin' && !a.disabled);
}

const running = new WeakMap<object, Promise<unknown>>();

/** The refusal once an admin exists. */
export const SETUP_DONE_MESSAGE =
  'An administrator account exists already: sign in with it. More accounts are added by an administrator (plant-console user add).';

/** Where a setup came from, for the audit record (`via` web or the Electron window, and the client's address). */
export interface SetupOrigin {
  via: 'web' | 'window';
  source?: string;
}

/**
 * Creates the first admin account; FORBIDDEN once an enabled admin exists, BAD_REQUEST for a bad
 * name, password or PIN. Audited as `user_added` with `firstStart: true`.
 */
export async function createFirstAdmin(
  accounts: SetupAccounts,
  input: FirstAdminInput,
  by: AuditActor = {},
  from?: SetupOrigin,
): Promise<Account> {
  const previous = running.get(accounts) ?? Promise.resolve();
  const next = previous
    .catch(() => undefined)
    .then(async () => {
      if (!needsSetup(accounts)) throw new ConsoleError('FORBIDDEN', SETUP_DONE_MESSAGE);
      const pin = input.pin === undefined || input.pin === '' ? undefined : input.pin;
      return accounts.add(
        { name: normalizeUserName(input.name), role: 'admin', password: input.password, ...(pin !== undefined ? { pin } : {}) },
        by,
        { firstStart: true, ...(from ? { via: from.via } : {}), ...(from?.source ? { source: from.source } : {}) },
      );
    });
  running.set(accounts, next);
  try {
    return await next;
  } finally {
    if (running.get(accounts) === next) running.delete(accounts);
  }
}

/** First-start setup of one console, for its transports (null in the demo plant). */
export class FirstStartSetup {
  private readonly log: Logger;

  constructor(
    private readonly accounts: SetupAccounts,
    opts: { log?: Logger } = {},
  ) {
    this.log = opts.log ?? silentLogger;
  }

  /** True while no enabled admin account exists. */
  needed(): boolean {
    return needsSetup(this.accounts);
  }

  /** Checks an outside request and creates the first admin (errors as createFirstAdmin's). */
  async create(request: unknown, by: AuditActor, from: SetupOrigin): Promise<Account> {
    const parsed = FirstAdminSchema.safeParse(request);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConsoleError('BAD_REQUEST', issue ? `${issue.path.join('.') || 'request'}: ${issue.message}` : 'Bad setup request');
    }
    const account = await createFirstAdmin(this.accounts, parsed.data, by, from);
    this.log.log('info', `First start: administrator account "${account.name}" created on the local console`, { user: account.name });
    return account;
  }
}
