/**
 * Accounts, sessions, audit log and a plant core on an in-memory store, for the tests of web
 * sign-in and remote support. The core's pollers never connect (nothing is read or written).
 */
import Database from 'libsql';
import { ConsoleApi, type ConsoleApiOptions } from '../../src-main/api/service';
import { AuditLog } from '../../src-main/audit/log';
import { AccountStore } from '../../src-main/auth/accounts';
import { TEST_HASH_PARAMS } from '../../src-main/auth/passwords';
import { AuthService, type AuthServiceOptions } from '../../src-main/auth/sessions';
import { resolveConfig } from '../../src-main/config/load';
import { memoryLogger } from '../../src-main/core/log';
import { PlantCore, type PollerFactory } from '../../src-main/core/plant';
import { systemClock, type Clock, type Poller } from '../../src-main/core/types';
import { signingKeyPair } from '../../src-main/protocol/keys';
import { createRemoteSupport, type RemoteSupportSystem } from '../../src-main/remote';
import type { RemoteSupportOptions } from '../../src-main/remote/support';
import { migrate } from '../../src-main/store/schema';
import type { Link } from '../../src-preload/contract';

/** Passwords of the accounts `setupPeople` creates. */
export const PASSWORDS = {
  maint: 'maint-password-1',
  oper: 'oper-password-22',
  support: 'support-password-3',
} as const;
export const MAINT_PIN = '2580';

const idlePoller = (): Poller => ({
  start() {},
  async stop() {},
  onResult: () => () => undefined,
  link: (): Link => ({
    state: 'connecting',
    since: Date.now(),
    lastOkAt: null,
    lastError: null,
    consecutiveFailures: 0,
    pollsOk: 0,
    pollsFailed: 0,
    lastPollMs: null,
  }),
  async write() {},
  async readPoint() {
    throw new Error('not read in this test');
  },
});

/** Everything a sign-in or remote support test needs, on a fresh in-memory store. */
export interface People {
  audit: AuditLog;
  accounts: AccountStore;
  auth: AuthService;
  core: PlantCore;
  api: ConsoleApi;
  remote: RemoteSupportSystem;
  log: ReturnType<typeof memoryLogger>;
  close(): Promise<void>;
}

/** Accounts maint (maintenance, PIN), oper (operator) and support (supplier-support), two machines. */
export async function setupPeople(
  opts: {
    clock?: Clock;
    auth?: AuthServiceOptions;
    remote?: Partial<Pick<RemoteSupportOptions, 'maxDurationMs' | 'codeTtlMs' | 'maxJoinFailures' | 'timers' | 'sweepMs'>>;
    /** The machines' pollers (default: idle ones that never answer). */
    pollerFactory?: PollerFactory;
    /** More of the console API (a module manager for the firmware upload tests). */
    api?: Omit<ConsoleApiOptions, 'log' | 'remote'>;
  } = {},
): Promise<People> {
  const db = new Database(':memory:');
  migrate(db);
  const log = memoryLogger();
  const clock = opts.clock ?? systemClock;
  const audit = new AuditLog(db, { signing: signingKeyPair() }, { timers: false, clock });
  const accounts = new AccountStore(db, { audit, clock, hashParams: TEST_HASH_PARAMS });
  await accounts.add({ name: 'maint', role: 'maintenance', password: PASSWORDS.maint, pin: MAINT_PIN });
  await accounts.add({ name: 'oper', role: 'operator', password: PASSWORDS.oper });
  await accounts.add({ name: 'support', role: 'supplier-support', password: PASSWORDS.support });
  // With a fake clock (one that has `t`), a failure's answer waits on it instead of in real time.
  const fake = opts.clock as { t?: number } | undefined;
  const sleep = fake && typeof fake.t === 'number' ? (ms: number) => Promise.resolve(void (fake.t = (fake.t ?? 0) + ms)) : undefined;
  const auth = new AuthService(db, accounts, { audit, clock, timers: false, ...(sleep ? { sleep } : {}), ...opts.auth });
  const config = resolveConfig(
    {
      plant: { name: 'People test', timezone: 'UTC' },
      devices: [
        { id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 } },
        { id: 'pk-2', name: 'Packer 2', profile: 'builtin:pk60', transport: { type: 'tcp', host: '127.0.0.1', port: 1503 } },
      ],
    },
    'people.json',
  );
  const core = new PlantCore({ config, log, clock, pollerFactory: opts.pollerFactory ?? idlePoller, audit });
  core.start();
  const remote = createRemoteSupport({ auth, accounts, host: core, audit, log, limits: { timers: false, ...opts.remote } });
  const api = new ConsoleApi(core, { ...opts.api, log, remote: remote.api });
  return {
    audit,
    accounts,
    auth,
    core,
    api,
    remote,
    log,
    async close() {
      remote.close();
      await core.stop();
      auth.close();
      audit.close();
      db.close();
    },
  };
}
