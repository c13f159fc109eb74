/**
 * Starts the plant core from a configuration file, or the embedded demo plant when there is
 * none. Shared by the Electron main process and the headless `serve` command.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConsoleApi } from '../api/service';
import { AuditLog } from '../audit/log';
import { AuditWitness } from '../audit/witness';
import { readSyslogTls, SyslogForwarder } from '../audit/syslog-forwarder';
import { AccountStore } from '../auth/accounts';
import { createConfirmGate } from '../auth/confirm-gate';
import { ensureDemoAccounts } from '../auth/demo';
import { FirstStartSetup } from '../auth/setup';
import { auditConfigAtStart } from '../config/config-audit';
import { AuthService } from '../auth/sessions';
import { loadConfig, packageRoot } from '../config/load';
import type { PlantConfig } from '../config/schema';
import type { Logger } from '../core/log';
import { historyRetention, PlantCore } from '../core/plant';
import { Teardown } from '../core/teardown';
import { startModuleSystem, type ModuleSystem } from '../modules';
import { createRecoSystem, type RecoSystem } from '../recommendations';
import { createRemoteSupport, SqlRemoteStore, type RemoteSupportSystem } from '../remote';
import { createSqlAlarmStore } from '../store/alarms-sql';
import { ensurePrivateDataDir } from '../store/data-dir';
import { watchHistory } from '../store/history-alarm';
import { CONSOLE_DISK_RESERVE_BYTES } from '../store/disk-guard';
import { openPlantStore, type PlantStore } from '../store/open';
import { createSqlWriteLog } from '../store/write-log-sql';
import type { OsKeyStore } from '../store/key-wrappers';
import { signingPublicKeys } from '../uplink/plant-keys';
import { watchOutbox } from '../uplink/outbox-alarm';
import { systemClock } from '../core/types';
import { watchDataLoss } from './data-loss-watch';
import { UplinkService } from '../uplink/service';
import { portProblem, startDemoPlant, type DemoPlant, type DemoPorts } from './demo';
import { VERSION } from './version';

export interface RunningPlant {
  config: PlantConfig;
  core: PlantCore;
  api: ConsoleApi;
  dataDir: string;
  demo: DemoPlant | null;
  /** The encrypted store (history, identity, outbox). */
  store: PlantStore;
  /** The protected uplink, when the config has an `uplink` section (the demo has one). */
  uplink: UplinkService | null;
  /** Supplier recommendations (they arrive over the uplink: null without one). */
  reco: RecoSystem | null;
  /** IoT modules and their firmware, when the config has a `modules` section (the demo has one). */
  modules: ModuleSystem | null;
  /** The tamper-evident audit log (its head is signed on stop). */
  audit: AuditLog;
  /** Local accounts (the demo plant's are created at its first start: auth/demo.ts). */
  accounts: AccountStore;
  /** Sign-in, sessions and lockouts, for the transports. */
  auth: AuthService;
  /** Remote support sessions granted on site (grants outlive a restart, sessions do not: remote/support-types.ts). */
  remote: RemoteSupportSystem;
  /** First-start setup while no admin account exists (null in the SIMULATED demo, which has its accounts). */
  setup: FirstStartSetup | null;
  /** The forwarding of audit records to plant IT's syslog collector (audit.syslog), or null. */
  syslog: SyslogForwarder | null;
  /** Undoes every part newest first (core/teardown.ts); rejects naming the parts that did not stop cleanly. */
  stop(): Promise<void>;
}

/** The built history writer thread (out/main/history-worker.js), or null where there is none (history then writes in process). */
export function historyWorkerScript(): string | null {
  try {
    const script = join(packageRoot(), 'out', 'main', 'history-worker.js');
    return existsSync(script) ? script : null;
  } catch {
    return null;
  }
}

/** What a plant is started from. */
export interface StartPlantOptions {
  configPath?: string;
  dataDir?: string;
  log: Logger;
  /** The OS key store (Electron safeStorage), when running in the desktop app. */
  osKeyStore?: OsKeyStore;
  /** The demo's broker, Modbus and module-channel ports (serve --demo-*-port); free ones unless given. */
  demoPorts?: DemoPorts;
}

/** Loads config (or starts the demo plant), then starts the core and the API over it. */
export async function startPlant(opts: StartPlantOptions): Promise<RunningPlant> {
  const dataDir = resolve(opts.dataDir ?? '.data');
  // Before anything is written there (the demo writes its files first): refused when others may write it.
  ensurePrivateDataDir(dataDir);
  // Every part is registered as it is set up and undone newest first: on stop, and when the start fails half-way.
  const teardown = new Teardown(opts.log);
  try {
    return await composePlant(opts, dataDir, teardown);
  } catch (err) {
    // Whatever was set up is undone; a failing undo step is logged, and the start's own error is what the caller sees.
    await teardown.run().catch(() => undefined);
    throw err;
  }
}

/** Sets up every part of the plant in order, registering how each is undone on `teardown`. */
async function composePlant(opts: StartPlantOptions, dataDir: string, teardown: Teardown): Promise<RunningPlant> {
  let demo: DemoPlant | null = null;
  let config: PlantConfig;
  if (opts.configPath) {
    config = loadConfig(opts.configPath);
    for (const w of config.warnings ?? []) opts.log.log('warn', `Configuration: ${w}`);
  } else {
    demo = teardown.use(
      'demo plant',
      await startDemoPlant({ dataDir, log: opts.log, ...(opts.demoPorts ? { ports: opts.demoPorts } : {}) }),
      (d) => d.stop(),
    );
    config = demo.config;
    opts.log.log('info', 'No configuration given: running the embedded demo plant (SIMULATED)', {
      machines: demo.agents.map((a) => `${a.model}@${a.host}:${a.port}`),
    });
  }
  // No key, no start: a configured plant unlocks with the OS key store or a passphrase;
  // only the SIMULATED demo keeps its key in a file beside its data.
  // Closed after the audit log: signing the audit head needs the plant key, which closing zeroes.
  const store = teardown.use(
    'store',
    await openPlantStore({
      dataDir,
      demo: demo !== null,
      log: opts.log,
      ...(opts.osKeyStore ? { osKeyStore: opts.osKeyStore } : {}),
      // The running console keeps a disk reserve: after a full disk, what was lost can still be recorded and told.
      disk: { reserveBytes: CONSOLE_DISK_RESERVE_BYTES },
      history: {
        retentionDays: config.history.retentionDays,
        rollupRetentionDays: config.history.rollupRetentionDays,
        diskBudgetBytes: config.history.diskBudgetMB * 1024 * 1024,
        flushIntervalMs: (config.history.flushIntervalS ?? 10) * 1000,
        // Storage never runs on the thread that polls (history-driver.ts).
        workerScript: historyWorkerScript(),
      },
    }),
    (s) => s.close(),
  );
  // Registered here, though set up once the core is there, so that it closes after the audit log (the
  // records of the stop itself go too, if the collector answers in time) and before the store.
  let syslog: SyslogForwarder | null = null;
  teardown.defer('syslog forwarding', () => syslog?.close());
  // Accounts, sessions and the audit log live in the store too; the audit head is signed on stop.
  const audit = teardown.use('audit log', new AuditLog(store.db, store.identity, { log: opts.log }), (a) => a.close());
  const accounts = new AccountStore(store.db, { log: opts.log, audit });
  if (demo) {
    const created = await ensureDemoAccounts(store.db, accounts);
    if (created.length > 0) opts.log.log('info', 'SIMULATED demo: created the demo accounts', { users: created.map((a) => a.name) });
  }
  // Config is a file: what changed since the previous start is audited now, before anything runs on it.
  if (!demo) {
    try {
      auditConfigAtStart(store.db, audit, config, { log: opts.log });
    } catch (err) {
      opts.log.log('error', 'The configuration could not be compared with the previous start', { error: String(err) });
    }
  }
  const setup = demo ? null : new FirstStartSetup(accounts, { log: opts.log });
  // Swept every second: an idle or expired session's live sockets close, and the window locks, within a second too.
  const auth = teardown.use(
    'sessions',
    new AuthService(store.db, accounts, {
      log: opts.log,
      audit,
      sweepMs: 1000,
      idleLockMs: { local: config.access.idleLockMinutes * 60_000 },
      ...(config.access.lockout
        ? {
            maxFailures: config.access.lockout.afterFailures,
            maxSourceFailures: config.access.lockout.afterFailures,
            lockoutMs: config.access.lockout.minutes * 60_000,
          }
        : {}),
    }),
    (a) => a.close(),
  );
  const retention = historyRetention(config);
  const core = new PlantCore({
    config,
    audit,
    log: opts.log,
    version: VERSION,
    history: store.history,
    historyRetentionMs: retention.rawMs,
    historySpanMs: retention.spanMs,
    // Alarms and the write log live in the store too, so a restart continues them; alarms are kept as long as values.
    alarmStore: createSqlAlarmStore(store.db, { log: opts.log, retentionMs: retention.spanMs }),
    writeLog: createSqlWriteLog(store.db, { log: opts.log }),
  });
  // Every audit record, also those from before this start, goes to plant IT's collector: the log is the queue.
  const syslogConfig = config.audit?.syslog;
  if (syslogConfig) {
    syslog = new SyslogForwarder({
      db: store.db,
      audit,
      config: syslogConfig,
      tls: readSyslogTls(syslogConfig, opts.configPath ? dirname(resolve(opts.configPath)) : dataDir),
      alarms: core.alarms,
      log: opts.log,
    });
  }
  const forwarder = syslog;
  // History that cannot be saved is an alarm, and health says where history is written and what it lost.
  watchHistory(store.history, core.alarms);
  let uplink: UplinkService | null = null;
  let witness: AuditWitness | null = null;
  if (config.uplink) {
    demo?.uplink?.writePlantKeys(dataDir, store.identity.publicKeys(), signingPublicKeys(store.db));
    const u = teardown.use(
      'uplink',
      new UplinkService({
        config: config.uplink,
        configDir: opts.configPath ? dirname(resolve(opts.configPath)) : dataDir,
        devices: config.devices,
        core,
        store,
        ...(demo?.uplink ? { password: demo.uplink.password } : {}),
        log: opts.log,
      }),
      (service) => service.stop(),
    );
    uplink = u;
    // Every signed audit head goes to the supplier cloud, its witness outside the plant.
    witness = teardown.use('audit witness', new AuditWitness({ db: store.db, audit, uplink: u, log: opts.log }), (w) => w.close());
    // A full outbox (recording stopped) is a plant-level alarm besides the banner.
    watchOutbox(u, core.alarms);
  }
  // Registered after the uplink so that it stops before it: the last samples are batched, then the outbox closes.
  teardown.defer('plant core', () => core.stop());
  // A full disk, undelivered batches: plant-level alarms, and /healthz says "degraded" with why.
  const dataLoss = watchDataLoss({
    disk: store.disk,
    history: store.history,
    uplink,
    alarms: core.alarms,
    clock: systemClock,
    deliveryAlarmAfterMs: (config.uplink?.deliveryAlarmAfterS ?? 120) * 1000,
  });
  teardown.defer('data-loss watch', () => dataLoss.stop());
  core.healthProblems = () => dataLoss.problems();
  // A signed-in account with a PIN confirms every setpoint change with it, recommendations included.
  const confirm = createConfirmGate(auth, accounts);
  const reco = uplink
    ? teardown.use(
        'recommendations',
        createRecoSystem({
          core,
          db: store.db,
          identity: store.identity,
          uplink,
          autoRevertAllowed: config.recommendations?.autoRevert ?? false,
          audit,
          log: opts.log,
          confirm,
        }),
        (r) => r.stop(),
      )
    : null;
  let modules: ModuleSystem | null = null;
  if (config.modules) {
    let started: ModuleSystem;
    try {
      started = await startModuleSystem({
        config: config.modules,
        configDir: opts.configPath ? dirname(resolve(opts.configPath)) : dataDir,
        dataDir,
        host: core,
        db: store.db,
        audit,
        confirm,
        uplink,
        log: opts.log,
      });
    } catch (err) {
      const chosen = demo ? opts.demoPorts?.modules : undefined;
      throw chosen === undefined ? err : portProblem('--demo-module-port', chosen, err);
    }
    // Stopped before the core: the module channel closes and no rollout step runs on a stopped core.
    modules = teardown.use('modules', started, (m) => m.stop());
  }
  // A supplier's sign-in never outlives a restart (their grant may: it then waits for a new join code).
  for (const s of auth.list()) if (s.role === 'supplier-support') auth.endSession(s.id, 'shutdown');
  // Set up last so it is undone first: remote sessions are cut off (audited; their grants stay) while
  // the audit log and sessions are still open.
  const remote = teardown.use(
    'remote support',
    createRemoteSupport({
      auth,
      accounts,
      host: core,
      audit,
      log: opts.log,
      store: new SqlRemoteStore(store.db, { log: opts.log }),
      limits: {
        defaultDurationMs: Math.min(config.access.remoteSessionMinutes ?? 60, config.access.remoteSessionMaxMinutes ?? 240) * 60_000,
        maxDurationMs: (config.access.remoteSessionMaxMinutes ?? 240) * 60_000,
      },
    }),
    (r) => r.close(),
  );
  const api = new ConsoleApi(core, {
    log: opts.log,
    ...(uplink ? { uplink } : {}),
    remote: remote.api,
    audit,
    confirm,
    ...(reco ? { reco: reco.service } : {}),
    ...(modules ? { modules: modules.manager } : {}),
    lockouts: auth,
    auditLinks: { links: () => ({ syslog: forwarder?.view() ?? null, witness: witness?.status() ?? null }) },
    historyHealth: () => {
      const s = store.history.stats();
      return {
        writer: s.writer,
        usedBytes: store.history.usedBytes(),
        budgetBytes: s.budgetBytes,
        overBudget: s.overBudget,
        samplesWritten: s.samplesWritten,
        buffered: s.buffered,
        samplesDropped: s.samplesDropped,
        errors: s.errors,
        lastError: s.lastError && { at: s.lastError.at, code: s.lastError.code, message: s.lastError.message },
      };
    },
  });
  // The demo's supplier cloud subscribes before the plant publishes, so it sees every batch from the first.
  if (uplink) await demo?.uplink?.startCloud();
  core.start();
  uplink?.start();
  // An apply a crash interrupted is undone once its machine answers; outcomes due meanwhile are measured.
  void reco?.start().catch((err: unknown) => opts.log.log('error', 'Recommendations could not start', { error: String(err) }));
  return {
    config,
    core,
    api,
    dataDir,
    demo,
    store,
    uplink,
    reco,
    modules,
    audit,
    accounts,
    auth,
    remote,
    setup,
    syslog,
    stop: () => teardown.run(),
  };
}
