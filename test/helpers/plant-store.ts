/**
 * A configured plant's store for tests: unlocked by `passphrase` only (no environment, no
 * prompt), with the cheapest Argon2id parameters (the KDF's cost is measured elsewhere) and no
 * background timers.
 */
import { silentLogger } from '../../src-main/core/log';
import { openPlantStore, type PlantStore } from '../../src-main/store/open';

/** Opens (or creates) the store of `dataDir` as a configured plant's. */
export function openTestPlantStore(dataDir: string, passphrase: string): Promise<PlantStore> {
  return openPlantStore({
    dataDir,
    demo: false,
    passphrase,
    env: {},
    prompt: null,
    argon2: { opslimit: 1, memlimit: 8192 },
    log: silentLogger,
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0 },
  });
}
