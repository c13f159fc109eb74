/**
 * Local accounts on the encrypted store (`users`, migration 2): a name, one of the four roles,
 * an Argon2id password hash, an optional PIN hash for quick confirmations on the touch panel,
 * and a disabled flag. Accounts are disabled, never deleted, so the audit log's names always
 * refer to someone. Every change is audited with who made it.
 *
 * The console and the `plant-console user` CLI may use the same store at the same time; every
 * method reads and writes the database, nothing is cached.
 */
import type { Role } from '../../src-preload/contract';
import type { AuditActor, AuditEntry, AuditSink } from '../audit/record';
import { ConsoleError } from '../core/errors';
import { silentLogger, type Logger } from '../core/log';
import { systemClock, type Clock } from '../core/types';
import type { Json } from '../protocol/canonical';
import type { StoreDb } from '../store/schema';
import { passwordShapeProblem } from '../../src-preload/contract/password-rules';
import { hashSecret, INTERACTIVE_HASH_PARAMS, newPasswordProblem, pinProblem, type PasswordHashParams } from './passwords';
import { isRole } from './roles';

/** What may be shown about an account: never a hash. */
export interface Account {
  name: string;
  role: Role;
  disabled: boolean;
  hasPin: boolean;
  createdAt: number;
  updatedAt: number;
  passwordChangedAt: number;
}

/** A change other parts react to (the AuthService ends sessions of disabled accounts). */
export interface AccountChange {
  kind: 'added' | 'disabled' | 'enabled' | 'password-reset' | 'pin-changed';
  name: string;
}

/** Options of the account store. */
export interface AccountStoreOptions {
  clock?: Clock;
  log?: Logger;
  audit?: AuditSink;
  /** Argon2id cost of new hashes (default INTERACTIVE_HASH_PARAMS; tests use TEST_HASH_PARAMS). */
  hashParams?: PasswordHashParams;
}

/** An account with its hashes: for the AuthService only. */
export interface AccountSecrets {
  account: Account;
  passwordHash: string;
  pinHash: string | null;
}

/** Lowercase letters, digits, `.`, `_`, `-`; starts with a letter; 2–64 characters. */
const NAME_PATTERN = /^[a-z][a-z0-9._-]{1,63}$/;
/** Names the console uses for the local window before anyone signs in. */
const RESERVED_PREFIX = 'local-';

/** How a typed name is looked up: trimmed and lowercased. */
export function normalizeUserName(name: string): string {
  return name.trim().toLowerCase();
}

/** Why `name` cannot be an account name, or null. */
export function userNameProblem(name: string): string | null {
  if (!NAME_PATTERN.test(name))
    return 'A user name has 2–64 characters: lowercase letters, digits, ".", "_" or "-", starting with a letter';
  if (name.startsWith(RESERVED_PREFIX)) return `Names starting with "${RESERVED_PREFIX}" are reserved for the local console`;
  return null;
}

interface UserRow {
  name: string;
  role: string;
  disabled: number;
  password_hash: string;
  pin_hash: string | null;
  created_at: number;
  updated_at: number;
  password_changed_at: number;
}

function toAccount(r: UserRow): Account {
  if (!isRole(r.role)) throw new ConsoleError('INTERNAL', `Account "${r.name}" has an unknown role "${r.role}"`);
  return {
    name: r.name,
    role: r.role,
    disabled: r.disabled === 1,
    hasPin: r.pin_hash !== null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    passwordChangedAt: r.password_changed_at,
  };
}

function refuse(message: string): ConsoleError {
  return new ConsoleError('BAD_REQUEST', message);
}

function statements(db: StoreDb) {
  return {
    get: db.prepare('SELECT * FROM users WHERE name = ?'),
    list: db.prepare('SELECT * FROM users ORDER BY name'),
    count: db.prepare('SELECT count(*) FROM users').raw(),
    enabledAdmins: db.prepare("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0").raw(),
    insert: db.prepare(
      'INSERT INTO users (name, role, disabled, password_hash, pin_hash, created_at, updated_at, password_changed_at) VALUES (?, ?, 0, ?, ?, ?, ?, ?)',
    ),
    setDisabled: db.prepare('UPDATE users SET disabled = ?, updated_at = ? WHERE name = ?'),
    setPassword: db.prepare('UPDATE users SET password_hash = ?, updated_at = ?, password_changed_at = ? WHERE name = ?'),
    setPasswordHashOnly: db.prepare('UPDATE users SET password_hash = ? WHERE name = ? AND password_hash = ?'),
    setPin: db.prepare('UPDATE users SET pin_hash = ?, updated_at = ? WHERE name = ?'),
  };
}

/** Accounts on the store database. */
export class AccountStore {
  readonly hashParams: PasswordHashParams;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly audit: AuditSink | undefined;
  private readonly handlers = new Set<(change: AccountChange) => void>();
  private readonly q: ReturnType<typeof statements>;

  constructor(db: StoreDb, opts: AccountStoreOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.audit = opts.audit;
    this.hashParams = opts.hashParams ?? INTERACTIVE_HASH_PARAMS;
    this.q = statements(db);
  }

  /**
   * Creates an account; BAD_REQUEST for a bad name, role or password, or a name in use.
   * `auditDetail` adds facts to the user_added record (first-start setup marks itself: auth/setup.ts).
   * `fixedPassword` (the demo's published constants, which a test checks against every rule)
   * skips only the list of common passwords, so the demo does not read that list at start-up.
   */
  async add(
    input: { name: string; role: Role; password: string; pin?: string },
    by: AuditActor = {},
    auditDetail: Record<string, Json> = {},
    opts: { fixedPassword?: boolean } = {},
  ): Promise<Account> {
    const name = input.name;
    const problem =
      userNameProblem(name) ??
      (isRole(input.role) ? null : `Unknown role "${String(input.role)}"`) ??
      (opts.fixedPassword ? passwordShapeProblem(input.password, name) : await newPasswordProblem(input.password, name))?.message;
    if (problem) throw refuse(problem);
    if (input.pin !== undefined) {
      const pinBad = pinProblem(input.pin);
      if (pinBad) throw refuse(pinBad);
    }
    if (this.row(name)) throw refuse(`A user "${name}" exists already`);
    const passwordHash = await hashSecret(input.password, this.hashParams);
    const pinHash = input.pin === undefined ? null : await hashSecret(input.pin, this.hashParams);
    const now = this.clock.now();
    try {
      this.q.insert.run([name, input.role, passwordHash, pinHash, now, now, now]);
    } catch (err) {
      // Another process (the CLI, the console) added the same name while we were hashing.
      if (this.row(name)) throw refuse(`A user "${name}" exists already`);
      throw err;
    }
    this.changed(
      { kind: 'user_added', ...by, detail: { ...auditDetail, name, role: input.role, pin: pinHash !== null } },
      { kind: 'added', name },
    );
    return this.mustGet(name);
  }

  /** Every account, by name. */
  list(): Account[] {
    return (this.q.list.all() as UserRow[]).map(toAccount);
  }

  /** One account, or undefined. */
  get(name: string): Account | undefined {
    const r = this.row(name);
    return r ? toAccount(r) : undefined;
  }

  /** How many accounts exist (disabled ones included). */
  count(): number {
    return (this.q.count.get() as [number] | undefined)?.[0] ?? 0;
  }

  /** Disables an account (its sessions end); the last enabled admin cannot be disabled. */
  disable(name: string, by: AuditActor = {}): Account {
    const acc = this.mustGet(name);
    if (acc.disabled) return acc;
    if (acc.role === 'admin' && ((this.q.enabledAdmins.get() as [number] | undefined)?.[0] ?? 0) <= 1) {
      throw refuse(`"${name}" is the last enabled admin: add or enable another admin first`);
    }
    this.q.setDisabled.run([1, this.clock.now(), name]);
    this.changed({ kind: 'user_disabled', ...by, detail: { name } }, { kind: 'disabled', name });
    return this.mustGet(name);
  }

  /** Enables a disabled account again. */
  enable(name: string, by: AuditActor = {}): Account {
    const acc = this.mustGet(name);
    if (!acc.disabled) return acc;
    this.q.setDisabled.run([0, this.clock.now(), name]);
    this.changed({ kind: 'user_enabled', ...by, detail: { name } }, { kind: 'enabled', name });
    return this.mustGet(name);
  }

  /** Sets a new password (sessions signed in with the old one end). */
  async resetPassword(name: string, password: string, by: AuditActor = {}): Promise<Account> {
    this.mustGet(name);
    const problem = await newPasswordProblem(password, name);
    if (problem) throw refuse(problem.message);
    const hash = await hashSecret(password, this.hashParams);
    const now = this.clock.now();
    this.q.setPassword.run([hash, now, now, name]);
    this.changed({ kind: 'password_reset', ...by, detail: { name } }, { kind: 'password-reset', name });
    return this.mustGet(name);
  }

  /** Sets (or with null removes) the quick-confirmation PIN. */
  async setPin(name: string, pin: string | null, by: AuditActor = {}): Promise<Account> {
    this.mustGet(name);
    if (pin !== null) {
      const problem = pinProblem(pin);
      if (problem) throw refuse(problem);
    }
    const hash = pin === null ? null : await hashSecret(pin, this.hashParams);
    this.q.setPin.run([hash, this.clock.now(), name]);
    this.changed({ kind: 'pin_changed', ...by, detail: { name, removed: pin === null } }, { kind: 'pin-changed', name });
    return this.mustGet(name);
  }

  /** The account with its hashes (the AuthService checks passwords with them). */
  secrets(name: string): AccountSecrets | undefined {
    const r = this.row(name);
    return r ? { account: toAccount(r), passwordHash: r.password_hash, pinHash: r.pin_hash } : undefined;
  }

  /** Replaces a password hash made with an older cost by one of the current cost, after a good login. */
  async upgradeHash(name: string, oldHash: string, password: string): Promise<void> {
    const hash = await hashSecret(password, this.hashParams);
    // Only if nobody changed the password meanwhile; password_changed_at stays (same password).
    this.q.setPasswordHashOnly.run([hash, name, oldHash]);
  }

  /** Calls `handler` after every change; returns the unsubscribe. */
  onChange(handler: (change: AccountChange) => void): () => void {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  private row(name: string): UserRow | undefined {
    return this.q.get.get([name]) as UserRow | undefined;
  }

  private mustGet(name: string): Account {
    const acc = this.get(name);
    if (!acc) throw new ConsoleError('NOT_FOUND', `No user "${name}"`);
    return acc;
  }

  private changed(entry: AuditEntry, change: AccountChange): void {
    this.audit?.record(entry);
    this.log.log('info', `Account ${change.name}: ${change.kind}`, { user: change.name, change: change.kind, by: entry.user ?? null });
    for (const h of [...this.handlers]) {
      try {
        h(change);
      } catch (err) {
        this.log.log('warn', 'An account change handler threw', { error: String(err) });
      }
    }
  }
}
