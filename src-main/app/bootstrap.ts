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
import { PlantCore } from '../core/plant';
import { startModuleSystem, type ModuleSystem } from '../modules';
import { createRecoSystem, type RecoSystem } from '../recommendations';
import { createRemoteSupport, SqlRemoteStore, type RemoteSupportSystem } from '../remote';
import { createSqlAlarmStore } from '../store/alarms-sql';
import { ensurePrivateDataDir } from '../store/data-dir';
import { watchHistory } from '../store/history-alarm';
import { openPlantStore, type PlantStore } from '../store/open';
import { createSqlWriteLog } from '../store/write-log-sql';
import type { OsKeyStore } from '../store/key-wrappers';
import { signingPublicKeys } from '../uplink/plant-keys';
import { watchOutbox } from '../uplink/outbox-alarm';
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

/** Loads config (or starts the demo plant), then starts the core and the API over it. */
export async function startPlant(opts: {
  configPath?: string;
  dataDir?: string;
  log: Logger;
  /** The OS key store (Electron safeStorage), when running in the desktop app. */
  osKeyStore?: OsKeyStore;
  /** The demo's broker, Modbus and module-channel ports (serve --demo-*-port); free ones unless given. */
  demoPorts?: DemoPorts;
}): Promise<RunningPlant> {
  const dataDir = resolve(opts.dataDir ?? '.data');
  // Before anything is written there (the demo writes its files first): refused when others may write it.
  ensurePrivateDataDir(dataDir);
  let demo: DemoPlant | null = null;
  let config: PlantConfig;
  if (opts.configPath) {
    config = loadConfig(opts.configPath);
    for (const w of config.warnings ?? []) opts.log.log('warn', `Configuration: ${w}`);
  } else {
    demo = await startDemoPlant({ dataDir, log: opts.log, ...(opts.demoPorts ? { ports: opts.demoPorts } : {}) });
    config = demo.config;
    opts.log.log('info', 'No configuration given: running the embedded demo plant (SIMULATED)', {
      machines: demo.agents.map((a) => `${a.model}@${a.host}:${a.port}`),
    });
  }
  let store: PlantStore;
  try {
    // No key, no start: a configured plant unlocks with the OS key store or a passphrase;
    // only the SIMULATED demo keeps its key in a file beside its data.
    store = await openPlantStore({
      dataDir,
      demo: demo !== null,
      log: opts.log,
      ...(opts.osKeyStore ? { osKeyStore: opts.osKeyStore } : {}),
      history: {
        retentionDays: config.history.retentionDays,
        rollupRetentionDays: config.history.rollupRetentionDays,
        diskBudgetBytes: config.history.diskBudgetMB * 1024 * 1024,
        flushIntervalMs: (config.history.flushIntervalS ?? 10) * 1000,
        // Storage never runs on the thread that polls (history-driver.ts).
        workerScript: historyWorkerScript(),
      },
    });
  } catch (err) {
    await demo?.stop();
    throw err;
  }
  // Accounts, sessions and the audit log live in the store too; the audit head is signed on stop.
  const audit = new AuditLog(store.db, store.identity, { log: opts.log });
  const accounts = new AccountStore(store.db, { log: opts.log, audit });
  if (demo) {
    try {
      const created = await ensureDemoAccounts(store.db, accounts);
      if (created.length > 0) opts.log.log('info', 'SIMULATED demo: created the demo accounts', { users: created.map((a) => a.name) });
    } catch (err) {
      audit.close();
      store.close();
      await demo.stop();
      throw err;
    }
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
  const auth = new AuthService(store.db, accounts, {
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
  });
  const core = new PlantCore({
    config,
    audit,
    log: opts.log,
    version: VERSION,
    history: store.history,
    historyRetentionMs: config.history.retentionDays * 86_400_000,
    // Alarms and the write log live in the store too, so a restart continues them.
    alarmStore: createSqlAlarmStore(store.db, { log: opts.log, retentionMs: config.history.retentionDays * 86_400_000 }),
    writeLog: createSqlWriteLog(store.db, { log: opts.log }),
  });
  // Every audit record, also those from before this start, goes to plant IT's collector: the log is the queue.
  let syslog: SyslogForwarder | null = null;
  const syslogConfig = config.audit?.syslog;
  if (syslogConfig) {
    try {
      syslog = new SyslogForwarder({
        db: store.db,
        audit,
        config: syslogConfig,
        tls: readSyslogTls(syslogConfig, opts.configPath ? dirname(resolve(opts.configPath)) : dataDir),
        alarms: core.alarms,
        log: opts.log,
      });
    } catch (err) {
      auth.close();
      audit.close();
      store.close();
      await demo?.stop();
      throw err;
    }
    const s = syslog;
    core.syslogHealth = () => s.view();
  }
  // History that cannot be saved is an alarm, and health says where history is written and what it lost.
  watchHistory(store.history, core.alarms);
  core.historyHealth = () => {
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
  };
  let uplink: UplinkService | null = null;
  let witness: AuditWitness | null = null;
  if (config.uplink) {
    try {
      demo?.uplink?.writePlantKeys(dataDir, store.identity.publicKeys(), signingPublicKeys(store.db));
      uplink = new UplinkService({
        config: config.uplink,
        configDir: opts.configPath ? dirname(resolve(opts.configPath)) : dataDir,
        devices: config.devices,
        core,
        store,
        ...(demo?.uplink ? { password: demo.uplink.password } : {}),
        log: opts.log,
      });
    } catch (err) {
      await syslog?.close();
      auth.close();
      audit.close();
      store.close();
      await demo?.stop();
      throw err;
    }
    const u = uplink;
    core.uplinkHealth = () => u.health();
    // Every signed audit head goes to the supplier cloud, its witness outside the plant.
    witness = new AuditWitness({ db: store.db, audit, uplink: u, log: opts.log });
    // A full outbox (recording stopped) is a plant-level alarm besides the banner.
    watchOutbox(u, core.alarms);
  }
  // A supplier's sign-in never outlives a restart (their grant may: it then waits for a new join code).
  for (const s of auth.list()) if (s.role === 'supplier-support') auth.endSession(s.id, 'shutdown');
  const remote = createRemoteSupport({
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
  });
  // A signed-in account with a PIN confirms every setpoint change with it, recommendations included.
  const confirm = createConfirmGate(auth, accounts);
  const reco = uplink
    ? createRecoSystem({
        core,
        db: store.db,
        identity: store.identity,
        uplink,
        autoRevertAllowed: config.recommendations?.autoRevert ?? false,
        audit,
        log: opts.log,
        confirm,
      })
    : null;
  let modules: ModuleSystem | null = null;
  if (config.modules) {
    try {
      modules = await startModuleSystem({
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
      reco?.stop();
      remote.close();
      await syslog?.close();
      auth.close();
      audit.close();
      store.close();
      await demo?.stop();
      const chosen = demo ? opts.demoPorts?.modules : undefined;
      throw chosen === undefined ? err : portProblem('--demo-module-port', chosen, err);
    }
  }
  const api = new ConsoleApi(core, {
    log: opts.log,
    ...(uplink ? { uplink } : {}),
    remote: remote.api,
    audit,
    confirm,
    ...(reco ? { reco: reco.service } : {}),
    ...(modules ? { modules: modules.manager } : {}),
    lockouts: auth,
    auditLinks: { links: () => ({ syslog: syslog?.view() ?? null, witness: witness?.status() ?? null }) },
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
    async stop() {
      // First: remote sessions are cut off (audited; their grants stay) while the audit log and sessions are still open.
      remote.close();
      reco?.stop();
      // Before the core: the module channel closes and no rollout step runs on a stopped core.
      await modules?.stop();
      await core.stop();
      // After the core: the last samples are batched, then the outbox is closed with the store.
      witness?.close();
      await uplink?.stop();
      // Before the store: signing the audit head needs the plant key, which closing zeroes.
      auth.close();
      audit.close();
      // Last before the store: the records of the stop itself go too, if the collector answers in time.
      await syslog?.close();
      store.close();
      await demo?.stop();
    },
  };
}
