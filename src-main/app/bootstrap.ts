/**
 * Starts the plant core from a configuration file, or the embedded demo plant when there is
 * none. Shared by the Electron main process and the headless `serve` command.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConsoleApi, localCaller } from '../api/service';
import type { Caller } from '../../src-preload/contract';
import { loadConfig } from '../config/load';
import type { PlantConfig } from '../config/schema';
import type { Logger } from '../core/log';
import { PlantCore } from '../core/plant';
import { openPlantStore, type PlantStore } from '../store/open';
import type { OsKeyStore } from '../store/key-wrappers';
import { startDemoPlant, type DemoPlant } from './demo';
import { VERSION } from './version';

export interface RunningPlant {
  config: PlantConfig;
  core: PlantCore;
  api: ConsoleApi;
  dataDir: string;
  demo: DemoPlant | null;
  /** Who the local console acts as until accounts exist. */
  caller: Caller;
  /** The encrypted store (history, identity, outbox). */
  store: PlantStore;
  stop(): Promise<void>;
}

/** Loads config (or starts the demo plant), then starts the core and the API over it. */
export async function startPlant(opts: {
  configPath?: string;
  dataDir?: string;
  log: Logger;
  /** The OS key store (Electron safeStorage), when running in the desktop app. */
  osKeyStore?: OsKeyStore;
}): Promise<RunningPlant> {
  const dataDir = resolve(opts.dataDir ?? '.data');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let demo: DemoPlant | null = null;
  let config: PlantConfig;
  if (opts.configPath) {
    config = loadConfig(opts.configPath);
  } else {
    demo = await startDemoPlant();
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
      history: { retentionDays: config.history.retentionDays, diskBudgetBytes: config.history.diskBudgetMB * 1024 * 1024 },
    });
  } catch (err) {
    await demo?.stop();
    throw err;
  }
  const core = new PlantCore({
    config,
    log: opts.log,
    version: VERSION,
    history: store.history,
    historyRetentionMs: config.history.retentionDays * 86_400_000,
  });
  const api = new ConsoleApi(core, { log: opts.log });
  core.start();
  return {
    config,
    core,
    api,
    dataDir,
    demo,
    caller: localCaller(config.access.localRole),
    store,
    async stop() {
      await core.stop();
      store.close();
      await demo?.stop();
    },
  };
}
