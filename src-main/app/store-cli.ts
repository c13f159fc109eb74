/**
 * `plant-console store check` and `store recover`: what to do when the console refuses to start
 * because its store is damaged or was rolled back (store/store-check.ts).
 *
 * - `check` opens the store as the console does (integrity, sequence guard) and says whether it
 *   would start, without changing anything (exit code 1 when it would not).
 * - `recover` is the way forward for a rolled-back store: uplink numbering continues after the
 *   highest number ever used, the skipped numbers are declared lost to the cloud in a signed gap
 *   notice at the next start, and the recovery is audited. Run it with the console stopped.
 */
import { resolve } from 'node:path';
import { AuditLog } from '../audit/log';
import { defineCommand, defineGroup, parseCommand, selectCommand } from '../core/command-line';
import { consoleLogger, type Logger } from '../core/log';
import { storeKeyWrapper } from '../store/key-file';
import { openPlantStore, type PlantStore } from '../store/open';
import type { PassphrasePrompt } from '../store/prompt';
import { DATA_DIR_OPTION } from './user-cli';

type Out = { out: (s: string) => void; err: (s: string) => void };

const UNLOCK = 'The store unlocks with PLANT_CONSOLE_PASSPHRASE, or asks on a terminal.';

/** `plant-console store check`. */
export const STORE_CHECK_COMMAND = defineCommand({
  name: 'plant-console store check',
  summary: 'opens the store as the console does (integrity check, sequence guard) and says whether it would start',
  details: `Changes nothing. Exit code 1 names what is wrong (a damaged or truncated file, a store behind its
sequence guard) and what to do. ${UNLOCK}`,
  options: { 'data-dir': DATA_DIR_OPTION },
  examples: ['plant-console store check --data-dir /var/lib/plant-console'],
});

/** `plant-console store recover`. */
export const STORE_RECOVER_COMMAND = defineCommand({
  name: 'plant-console store recover',
  summary: 'a rolled-back store continues uplink numbering after the highest number ever used',
  details: `After "the store is behind its sequence guard": the cloud is told, in a signed gap notice at the
next start, that the skipped numbers may be lost; audited. Run it with the console stopped. ${UNLOCK}`,
  options: {
    'data-dir': DATA_DIR_OPTION,
    through: {
      type: 'string',
      arg: 'N',
      help: 'continue after N instead: the number the console said the cloud holds (the whole data dir was restored)',
    },
  },
  examples: ['plant-console store recover --data-dir /var/lib/plant-console'],
});

/** `plant-console store …`. */
export const STORE_COMMANDS = defineGroup({
  name: 'plant-console store',
  summary: 'what to do when the console refuses to start because its store is damaged or was rolled back',
  commands: [STORE_CHECK_COMMAND, STORE_RECOVER_COMMAND],
});

/** What the command needs from its surroundings (injected in tests). */
export interface StoreCliDeps {
  env?: Record<string, string | undefined>;
  prompt?: PassphrasePrompt | null;
  log?: Logger;
}

async function open(dataDir: string, deps: StoreCliDeps, acceptRollback: boolean): Promise<PlantStore> {
  const dir = resolve(dataDir);
  return openPlantStore({
    dataDir: dir,
    demo: storeKeyWrapper(dir) === 'demo-key-file',
    create: false,
    acceptRollback,
    log: deps.log ?? consoleLogger('warn'),
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.prompt !== undefined ? { prompt: deps.prompt } : {}),
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0 },
    disk: { checkEveryMs: 0 },
  });
}

/** Runs `store check|recover`; resolves with the exit code. */
export async function runStoreCommand(argv: string[], io: Out, deps: StoreCliDeps = {}): Promise<number> {
  const { command, rest } = selectCommand(STORE_COMMANDS, argv);
  const sub = command === STORE_CHECK_COMMAND ? 'check' : 'recover';
  const { values } = parseCommand(sub === 'check' ? STORE_CHECK_COMMAND : STORE_RECOVER_COMMAND, rest);
  const withLog = { log: consoleLogger('warn', (line) => io.err(line + '\n')), ...deps };
  const store = await open(values['data-dir'], withLog, sub === 'recover');
  try {
    const v = store.sequence;
    if (sub === 'check') {
      io.out(
        `The store ${store.dbPath} passed its integrity check; its uplink sequence is ${v.stored}` +
          (v.kind === 'skip' ? `; ${v.from}..${v.to} were reserved and not recorded: they are skipped and declared lost.` : '.') +
          ' The console can start.\n',
      );
      return 0;
    }
    if (v.kind !== 'skip' || !v.rolledBack) {
      io.out(`The store ${store.dbPath} is not behind its sequence guard (sequence ${v.stored}): nothing to recover.\n`);
      return 0;
    }
    const audit = new AuditLog(store.db, store.identity, { log: withLog.log });
    try {
      audit.append({
        kind: 'store_recovered',
        detail: { storedSequence: v.stored, declaredLost: `${v.from}..${v.to}`, continuesAt: v.to + 1 },
      });
    } finally {
      audit.close();
    }
    io.out(
      `Recovered ${store.dbPath}: uplink numbering continues at ${v.to + 1}. At its next start the console tells the cloud, ` +
        `in a signed gap notice, that ${v.from}..${v.to} may be lost. What the store lost besides (history, alarms, audit ` +
        `records after the rollback point) stays lost. Recorded in the audit log.\n`,
    );
    return 0;
  } finally {
    store.close();
  }
}
