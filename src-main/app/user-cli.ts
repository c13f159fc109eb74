/**
 * `plant-console user add|list|disable|enable|reset|pin|lockouts|unlock`: headless account
 * administration, sign-in lockouts included (listed and lifted, audited as done by the CLI).
 * The store is unlocked the way `keys show` does it (src-main/app/keys-cli.ts). Passwords and
 * PINs come from standard input only: typed twice without echo on a terminal, or the first
 * line of piped input for scripts. Never from the command line, where `ps` and shell history
 * would keep them.
 */
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { AuditLog } from '../audit/log';
import type { AuditActor } from '../audit/record';
import { AccountStore, normalizeUserName, userNameProblem, type Account } from '../auth/accounts';
import { DEFAULT_GUARD_POLICY, SignInGuard, type Lockout } from '../auth/sign-in-guard';
import { SqlThrottleTable } from '../auth/throttle-sql';
import type { PasswordHashParams } from '../auth/passwords';
import { isRole, ALL_ROLES } from '../auth/roles';
import { defineCommand, defineGroup, parseCommand, selectCommand } from '../core/command-line';
import { ConsoleError } from '../core/errors';
import { consoleLogger, silentLogger, type Logger } from '../core/log';
import { systemClock } from '../core/types';
import { storeKeyWrapper } from '../store/key-file';
import { openPlantStore, type PlantStore } from '../store/open';
import type { PassphrasePrompt } from '../store/prompt';

type Out = { out: (s: string) => void; err: (s: string) => void };

/** Standard input as the command sees it (a terminal can switch echo off). */
export interface SecretInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/** What the user and audit commands need from their surroundings (injected in tests). */
export interface StoreCliDeps {
  env?: Record<string, string | undefined>;
  /** The store passphrase prompt; null never asks (default: ask when stdin is a TTY). */
  prompt?: PassphrasePrompt | null;
  log?: Logger;
  /** Where passwords are read from (default process.stdin). */
  stdin?: SecretInput;
  /** Argon2id cost of new hashes (tests only; default the interactive cost). */
  hashParams?: PasswordHashParams;
}

/** Opens an existing store of `dataDir` for a CLI command, as `keys show` does. */
export async function openStoreForCli(dataDir: string, deps: StoreCliDeps, io: Out): Promise<PlantStore> {
  const dir = resolve(dataDir);
  const wrapper = storeKeyWrapper(dir);
  if (wrapper === null) throw new ConsoleError('NOT_FOUND', `No plant store in ${dir}: start the console with this --data-dir once first`);
  return openPlantStore({
    dataDir: dir,
    demo: wrapper === 'demo-key-file',
    create: false,
    log: deps.log ?? consoleLogger('warn', (line) => io.err(line + '\n')),
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.prompt !== undefined ? { prompt: deps.prompt } : {}),
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0 },
    // The console may be running: it owns the uplink's sequence counter and guard.
    applySequence: false,
  });
}

/** Who the CLI acts as in the audit log: the operating-system user running it. */
export function cliActor(): AuditActor {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (some containers): the record still says it came from the CLI.
  }
  return { user: `cli:${name}`, role: null, origin: 'local' };
}

/** Reads one line from a terminal without echo. */
function askHidden(input: SecretInput, output: Out, question: string): Promise<string> {
  return new Promise<string>((resolveLine, reject) => {
    output.err(question);
    let typed = '';
    const finish = (err: Error | null): void => {
      input.removeListener('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.err('\n');
      if (err) reject(err);
      else resolveLine(typed);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish(null);
        if (ch === '\u0003') return finish(new ConsoleError('BAD_REQUEST', 'Cancelled: nothing was changed'));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    input.setRawMode?.(true);
    input.resume();
    input.on('data', onData);
  });
}

/** The first line of piped input (at most 64 KiB are read). */
async function readFirstLine(input: SecretInput): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (text.includes('\n') || text.length > 65_536) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

/** A new secret from stdin: asked twice on a terminal, else the first piped line. */
export async function readNewSecret(what: string, deps: StoreCliDeps, io: Out): Promise<string> {
  const input = deps.stdin ?? (process.stdin as SecretInput);
  if (input.isTTY && typeof input.setRawMode === 'function') {
    const first = await askHidden(input, io, `${what}: `);
    const again = await askHidden(input, io, 'The same again: ');
    if (first !== again) throw new ConsoleError('BAD_REQUEST', 'The two entries differ: nothing was changed');
    return first;
  }
  const line = await readFirstLine(input);
  if (line === '')
    throw new ConsoleError('BAD_REQUEST', `No ${what.toLowerCase()} on standard input (pipe it in, or run on a terminal to be asked)`);
  return line;
}

/** The store's sign-in lockouts, read and lifted as the console does. */
function guardFor(store: PlantStore, audit?: AuditLog): SignInGuard {
  return new SignInGuard(new SqlThrottleTable(store.db), DEFAULT_GUARD_POLICY, { clock: systemClock, audit, log: silentLogger });
}

/** One lockout in words: what is locked, from where, until when. */
function lockoutLine(l: Lockout): string {
  const who = l.scope === 'source' ? 'every account' : (l.user ?? '(not a name)');
  const from = l.scope === 'pin' ? 'PIN confirmations' : l.source === null ? 'every network source' : `from ${l.source}`;
  return `${l.scope.padEnd(8)} ${who.padEnd(24)} ${from.padEnd(26)} ${l.failures} failures, until ${new Date(l.lockedUntil).toISOString()}`;
}

function accountLine(a: Account): string {
  const status = a.disabled ? 'disabled' : 'enabled';
  return `${a.name.padEnd(24)} ${a.role.padEnd(17)} ${status.padEnd(9)} ${(a.hasPin ? 'pin' : '-').padEnd(4)} ${new Date(a.createdAt).toISOString()}`;
}

/** `--data-dir DIR`, as every command on the plant's store takes it. */
export const DATA_DIR_OPTION = {
  type: 'string',
  arg: 'DIR',
  default: '.data',
  help: "the plant's data directory (its encrypted store)",
} as const;
const NAME = { type: 'string', arg: 'NAME', required: true, help: 'the account name' } as const;
const FROM_STDIN =
  'The store is unlocked with the passphrase from PLANT_CONSOLE_PASSPHRASE_FILE, the systemd credential plant-console-passphrase or PLANT_CONSOLE_PASSPHRASE, or asked for on a terminal. The password is read from standard input: asked twice without echo on a terminal, or the first line of piped input; never from the command line. A password is refused, with the reason, when shorter than 10 characters, derived from the account name, repetitive or sequential, or on the shipped list of common and breached passwords.';

/** `plant-console user …`: one command per action, for parsing and help. */
export const USER_COMMANDS = defineGroup({
  name: 'plant-console user',
  summary: 'local accounts: add, list, disable, enable, reset, pin; sign-in lockouts: lockouts, unlock',
  commands: [
    defineCommand({
      name: 'plant-console user add',
      summary: 'a local account (operator, maintenance, admin, supplier-support)',
      details: FROM_STDIN,
      options: {
        'data-dir': DATA_DIR_OPTION,
        name: NAME,
        role: { type: 'string', arg: 'ROLE', required: true, help: `the account's role: ${ALL_ROLES.join(', ')}` },
      },
      examples: ['plant-console user add --data-dir /var/lib/plant-console --name anna --role admin'],
    }),
    defineCommand({
      name: 'plant-console user list',
      summary: 'the accounts: name, role, enabled or disabled, PIN set, created',
      options: { 'data-dir': DATA_DIR_OPTION, json: { type: 'boolean', help: 'JSON instead of a table' } },
      examples: ['plant-console user list --data-dir /var/lib/plant-console'],
    }),
    defineCommand({
      name: 'plant-console user disable',
      summary: 'an account can no longer sign in; its sessions end',
      options: { 'data-dir': DATA_DIR_OPTION, name: NAME },
      examples: ['plant-console user disable --name anna'],
    }),
    defineCommand({
      name: 'plant-console user enable',
      summary: 'a disabled account can sign in again',
      options: { 'data-dir': DATA_DIR_OPTION, name: NAME },
      examples: ['plant-console user enable --name anna'],
    }),
    defineCommand({
      name: 'plant-console user reset',
      summary: 'a new password for an account; its sessions end',
      details: FROM_STDIN,
      options: { 'data-dir': DATA_DIR_OPTION, name: NAME },
      examples: ['printf \'%s\\n\' "$NEW_PASSWORD" | plant-console user reset --name anna'],
    }),
    defineCommand({
      name: 'plant-console user pin',
      summary: 'sets (or removes) the PIN an account confirms setpoint changes with',
      details: FROM_STDIN.replace('The password', 'The PIN'),
      options: {
        'data-dir': DATA_DIR_OPTION,
        name: NAME,
        remove: { type: 'boolean', help: 'remove the PIN instead of setting one' },
      },
      examples: ['plant-console user pin --name anna', 'plant-console user pin --name anna --remove'],
    }),
    defineCommand({
      name: 'plant-console user lockouts',
      summary: 'the sign-in lockouts in force: per source and account, per source, per account for the network, per PIN',
      options: { 'data-dir': DATA_DIR_OPTION, json: { type: 'boolean', help: 'JSON instead of a table' } },
      examples: ['plant-console user lockouts --data-dir /var/lib/plant-console'],
    }),
    defineCommand({
      name: 'plant-console user unlock',
      summary: 'lifts sign-in lockouts: every one of the account, of the source, or of the account from that source',
      details: 'Needs --name, --source or both. Lifting is audited as done by the CLI.',
      options: {
        'data-dir': DATA_DIR_OPTION,
        name: { type: 'string', arg: 'NAME', help: 'the account whose lockouts are lifted' },
        source: { type: 'string', arg: 'ADDRESS', help: 'the network source (IP address) whose lockouts are lifted' },
      },
      examples: ['plant-console user unlock --name anna', 'plant-console user unlock --source 10.0.4.17'],
    }),
  ],
});

/** Every option any `user` command takes (each command accepts its own only). */
type UserValues = { 'data-dir': string; name?: string; role?: string; remove?: boolean; json?: boolean; source?: string };

/** `user <subcommand>`; resolves with the exit code, throws ConsoleErrors for the CLI to print. */
export async function runUserCommand(argv: string[], io: Out, deps: StoreCliDeps = {}): Promise<number> {
  const { command, rest } = selectCommand(USER_COMMANDS, argv);
  const sub = command.name.slice(USER_COMMANDS.name.length + 1);
  // Each command's spec defaults --data-dir and accepts a subset of the others.
  const values = parseCommand(command, rest).values as unknown as UserValues;
  const name = values.name ?? '';
  if (sub === 'unlock' && name === '' && values.source === undefined)
    throw new ConsoleError('BAD_REQUEST', 'user unlock needs --name NAME (every lockout of the account), --source ADDRESS, or both');
  if (sub !== 'list' && sub !== 'lockouts' && sub !== 'unlock' && name === '')
    throw new ConsoleError('BAD_REQUEST', `user ${sub} needs --name NAME`);
  if (sub === 'add' && !isRole(values.role)) {
    throw new ConsoleError('BAD_REQUEST', `user add needs --role, one of: ${ALL_ROLES.join(', ')}`);
  }
  // Refused before the password is asked for, not after.
  const nameBad = sub === 'add' ? userNameProblem(name) : null;
  if (nameBad) throw new ConsoleError('BAD_REQUEST', nameBad);

  const store = await openStoreForCli(values['data-dir'], deps, io);
  const log = deps.log ?? consoleLogger('warn', (line) => io.err(line + '\n'));
  const audit = new AuditLog(store.db, store.identity, { log, timers: false });
  try {
    const accounts = new AccountStore(store.db, { log, audit, ...(deps.hashParams ? { hashParams: deps.hashParams } : {}) });
    const by = cliActor();
    switch (sub) {
      case 'list': {
        const list = accounts.list();
        if (values.json) io.out(JSON.stringify({ users: list }, null, 2) + '\n');
        else if (list.length === 0) io.out('No accounts yet: add one with "plant-console user add --name NAME --role admin".\n');
        else
          io.out(
            [`${'NAME'.padEnd(24)} ${'ROLE'.padEnd(17)} ${'STATUS'.padEnd(9)} PIN  CREATED`, ...list.map(accountLine)].join('\n') + '\n',
          );
        return 0;
      }
      case 'add': {
        const role = values.role;
        if (!isRole(role)) return 2;
        if (accounts.get(name)) throw new ConsoleError('BAD_REQUEST', `A user "${name}" exists already`);
        const password = await readNewSecret(`Password for ${name}`, deps, io);
        const a = await accounts.add({ name, role, password }, by);
        io.out(`Added user ${a.name} (${a.role}).\n`);
        return 0;
      }
      case 'disable':
        io.out(`User ${accounts.disable(name, by).name} is disabled: their sessions end.\n`);
        return 0;
      case 'enable':
        io.out(`User ${accounts.enable(name, by).name} is enabled.\n`);
        return 0;
      case 'reset': {
        if (!accounts.get(name)) throw new ConsoleError('NOT_FOUND', `No user "${name}"`);
        const password = await readNewSecret(`New password for ${name}`, deps, io);
        await accounts.resetPassword(name, password, by);
        io.out(`The password of ${name} is changed: their sessions end.\n`);
        return 0;
      }
      case 'pin': {
        if (!accounts.get(name)) throw new ConsoleError('NOT_FOUND', `No user "${name}"`);
        const pin = values.remove ? null : await readNewSecret(`PIN for ${name}`, deps, io);
        await accounts.setPin(name, pin, by);
        io.out(pin === null ? `The PIN of ${name} is removed.\n` : `The PIN of ${name} is set.\n`);
        return 0;
      }
      case 'lockouts': {
        const list = guardFor(store).lockouts();
        if (values.json) io.out(JSON.stringify({ lockouts: list }, null, 2) + '\n');
        else if (list.length === 0) io.out('No sign-in lockout in force.\n');
        else io.out(list.map(lockoutLine).join('\n') + '\n');
        return 0;
      }
      case 'unlock': {
        const match = { ...(name !== '' ? { user: normalizeUserName(name) } : {}), ...(values.source ? { source: values.source } : {}) };
        const lifted = guardFor(store, audit).unlockWhere(match, by);
        if (lifted.length === 0) {
          io.out('No sign-in lockout in force for that: nothing to lift.\n');
          return 0;
        }
        io.out(lifted.map((l) => `Lifted: ${lockoutLine(l)}`).join('\n') + '\n');
        return 0;
      }
      default:
        return 2;
    }
  } finally {
    audit.close();
    store.close();
  }
}
