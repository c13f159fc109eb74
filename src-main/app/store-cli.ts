/**
 * `plant-console store check` and `store recover`: what to do when the console refuses to start
 * because its store is damaged or was rolled back (store/store-check.ts).
 *
 * - `check` opens the store as the console does (integrity, sequence guard) and says whether it
 *   would start, without changing anything (exit code 1 when it would not).
 * - `recover` is the way forward for a rolled-back store: uplink numbering continues after the
 *   highest number ever used, the skipped numbers are declared lost to the cloud in a signed gap
 *   notice at the next start, and the recovery is audited. Run it with the console stopped.
 *   `--through N` also skips to N: when the cloud holds numbers beyond the plant's own (the whole
 *   data directory, guard included, was restored from a backup), the console names N.
 */
import { resolve } from 'node:path';
import { AuditLog } from '../audit/log';
import { defineCommand, defineGroup, parseCommand, selectCommand } from '../core/command-line';
import { ConsoleError } from '../core/errors';
import { consoleLogger, type Logger } from '../core/log';
import { storeKeyWrapper } from '../store/key-file';
import { openPlantStore, type PlantStore } from '../store/open';
import type { PassphrasePrompt } from '../store/prompt';
import { skipSequence } from '../store/store-check';
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
  examples: [
    'plant-console store recover --data-dir /var/lib/plant-console',
    'plant-console store recover --data-dir /var/lib/plant-console --through 1048',
  ],
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

/** `recover` applies what the sequence check finds; `check` only judges (changes nothing, and the console may be running). */
async function open(dataDir: string, deps: StoreCliDeps, recover: boolean): Promise<PlantStore> {
  const dir = resolve(dataDir);
  return openPlantStore({
    dataDir: dir,
    demo: storeKeyWrapper(dir) === 'demo-key-file',
    create: false,
    acceptRollback: recover,
    applySequence: recover,
    log: deps.log ?? consoleLogger('warn'),
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.prompt !== undefined ? { prompt: deps.prompt } : {}),
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0 },
    disk: { checkEveryMs: 0 },
  });
}

/** `--through N`: a sequence number, checked before the store is unlocked. */
function parseThrough(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1)
    throw new ConsoleError('BAD_REQUEST', `--through must be a sequence number (1 to 2^53−1), got "${text}"`);
  return n;
}

/** Runs `store check|recover`; resolves with the exit code. */
export async function runStoreCommand(argv: string[], io: Out, deps: StoreCliDeps = {}): Promise<number> {
  const { command, rest } = selectCommand(STORE_COMMANDS, argv);
  const sub = command === STORE_CHECK_COMMAND ? 'check' : 'recover';
  const values: { 'data-dir': string; through?: string | undefined } =
    sub === 'check' ? parseCommand(STORE_CHECK_COMMAND, rest).values : parseCommand(STORE_RECOVER_COMMAND, rest).values;
  const through = values.through === undefined ? null : parseThrough(values.through);
  const withLog = { log: consoleLogger('warn', (line) => io.err(line + '\n')), ...deps };
  const store = await open(values['data-dir'], withLog, sub === 'recover');
  try {
    const v = store.sequence;
    if (sub === 'check') {
      io.out(
        `The store ${store.dbPath} passed its integrity check; its uplink sequence is ${v.stored}` +
          (v.kind === 'skip'
            ? `; ${v.from}..${v.to} were reserved and not recorded (yet, if the console is running): at its next start the console skips them and declares them lost.`
            : '.') +
          ' The console can start.\n',
      );
      return 0;
    }
    // What this recovery skips: the numbers a rollback took back (done as the store opened), and
    // with --through those up to the number the cloud holds.
    const skipped: [number, number][] = v.kind === 'skip' && v.rolledBack ? [[v.from, v.to]] : [];
    const used = store.guard.record().used;
    if (through !== null && through > used) {
      skipSequence(store.db, store.guard, used + 1, through);
      skipped.push([used + 1, through]);
    }
    if (skipped.length === 0) {
      io.out(
        through === null
          ? `The store ${store.dbPath} is not behind its sequence guard (sequence ${v.stored}): nothing to recover.\n`
          : `The store ${store.dbPath} already numbers after ${through} (numbers up to ${used} were used): nothing to recover.\n`,
      );
      return 0;
    }
    const continuesAt = store.guard.record().used + 1;
    const lost = skipped.map(([a, b]) => `${a}..${b}`).join(', ');
    const audit = new AuditLog(store.db, store.identity, { log: withLog.log });
    try {
      audit.append({
        kind: 'store_recovered',
        detail: { storedSequence: v.stored, declaredLost: lost, continuesAt, ...(through !== null ? { through } : {}) },
      });
    } finally {
      audit.close();
    }
    io.out(
      `Recovered ${store.dbPath}: uplink numbering continues at ${continuesAt}. At its next start the console tells the cloud, ` +
        `in a signed gap notice, that ${lost} may be lost. What the store lost besides (history, alarms, audit ` +
        `records after the rollback point) stays lost. Recorded in the audit log.\n`,
    );
    return 0;
  } finally {
    store.close();
  }
}
