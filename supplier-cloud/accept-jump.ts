/**
 * `supplier-cloud accept-jump`: the operator's answer to a `sequence_jump` refusal. A receiver
 * refuses a sequence far beyond the highest one a plant used so far (docs/uplink.md §7), so that
 * one forged or buggy batch cannot turn every later genuine one into a replay; when the plant
 * really skipped ahead (its store was recovered after a rollback, `plant-console store recover`),
 * this lets its numbering continue up to `--through`. The plant kept the refused batches and
 * sends them again by itself.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineCommand, parseCommand } from '../src-main/core/command-line';
import { ConsoleError } from '../src-main/core/errors';
import { loadDatabaseSettings } from './config';
import { openCloudStore, type CloudStore } from './store';

export const ACCEPT_JUMP_COMMAND = defineCommand({
  name: 'supplier-cloud accept-jump',
  summary: "after a sequence_jump refusal: lets a plant's sequence numbers continue up to N",
  usage: '(--config FILE | --db FILE) --plant ID --through N',
  details: `A receiver refuses a sequence far beyond the highest one a plant used so far (maxSequenceJump,
docs/uplink.md §7). Check with the plant that its store was really recovered (plant-console store
recover), then let N (the refused sequence) in: the plant sends the refused batches again by itself.`,
  options: {
    config: { type: 'string', arg: 'FILE', help: 'the receiver configuration (its database)' },
    db: { type: 'string', arg: 'FILE', help: "the receiver's database file, without a configuration" },
    plant: { type: 'string', arg: 'ID', required: true, help: 'the plant id or its pseudonym' },
    through: { type: 'string', arg: 'N', required: true, help: 'the highest sequence to let in (the refused one)' },
  },
  examples: ['supplier-cloud accept-jump --config cloud.json --plant acme-lyon-7 --through 1000048'],
});

type Io = { out: (s: string) => void; env?: Record<string, string | undefined> };

/** Opens the receiver database named by --config or --db, for a command that reads or fixes it. */
export function openCliStore(
  values: { config?: string | undefined; db?: string | undefined },
  io: Io,
  receiver: string,
): { store: CloudStore; database: string } {
  const settings = values.config
    ? loadDatabaseSettings(values.config, io.env ?? process.env)
    : values.db
      ? { database: resolve(values.db) }
      : null;
  if (!settings) throw new ConsoleError('BAD_REQUEST', '--config or --db is required');
  if (!existsSync(settings.database))
    throw new ConsoleError('CONFIG_UNREADABLE', `No receiver database at ${settings.database} (a receiver creates it when it starts)`);
  const store = openCloudStore(settings.database, {
    receiver,
    ...('databaseKey' in settings && settings.databaseKey ? { key: settings.databaseKey } : {}),
  });
  return { store, database: settings.database };
}

/** Runs `accept-jump`; resolves with the exit code. */
export function runAcceptJump(argv: string[], io: Io): number {
  const { values } = parseCommand(ACCEPT_JUMP_COMMAND, argv);
  const through = Number(values.through);
  if (!/^\d+$/.test(values.through) || !Number.isSafeInteger(through) || through < 1)
    throw new ConsoleError('BAD_REQUEST', `--through must be a sequence number (1 to 2^53−1), got "${values.through}"`);
  const { store } = openCliStore(values, io, 'accept-jump');
  try {
    const plant = store.status(0).plants.find((p) => p.plantId === values.plant || p.plant === values.plant);
    if (!plant) throw new ConsoleError('NOT_FOUND', `No plant ${values.plant} in the receiver database`);
    store.allowJump(plant.plant, through);
    io.out(
      `Plant ${plant.plantId} (${plant.plant}) may continue up to sequence ${through} (it held ${plant.lastSeq ?? 'none'}); ` +
        `the plant sends the refused batches again by itself.\n`,
    );
    return 0;
  } finally {
    store.close();
  }
}
