/**
 * `supplier-cloud` command line: keygen, provision, receive, rotate-key, status, recommend, reports, firmware.
 * bin/supplier-cloud.js sets the exit code from `runSupplierCloudCli`; nothing here exits.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConsoleError } from '../src-main/core/errors';
import { wipe } from '../src-main/protocol';
import { loadDatabaseSettings, loadReceiverConfig } from './config';
import { eventJson, formatEvent, type ReceiverEvent } from './events';
import { FIRMWARE_USAGE, runFirmwareCommand } from './firmware';
import { formatKeygenReport, generateSupplierKeys, writePlantProvisioning } from './keygen';
import { KEY_FILES, readSupplierSigner } from './keyfiles';
import { createProposer, type Proposer } from './proposer';
import { startReceiver } from './receiver';
import { RECOMMEND_USAGE, runRecommendCommand } from './recommend';
import { REPORTS_USAGE, runReportsCommand } from './reports';
import { parseDuration, republishAnnouncement, rotateCloudKey } from './rotate';
import { formatStatus, statusReport } from './status';
import { openCloudStore } from './store';

const USAGE = `supplier-cloud — the supplier's reference counterpart of Plant Console

Usage:
  supplier-cloud keygen --out DIR [--plant-id ID] [--force] [--json]
      The cloud's X25519 key pair and the supplier's Ed25519 signing key pair (secret files
      mode 0600, public files 0644) and DIR/provisioning.json for the plant (docs/provisioning.md).
      Refuses to overwrite existing keys unless --force.
  supplier-cloud provision --keys DIR --plant-id ID --out FILE [--force]
      A provisioning file for another plant, from the keys in DIR (a fresh pseudonym key).
  supplier-cloud receive --config FILE [--json] [--name NAME] [--propose --keys DIR [--propose-after 60s]]
      Subscribes (MQTT 5 shared subscription), verifies and decrypts every batch, stores it and
      prints one line per batch or refused message (JSON lines with --json). Runs until SIGINT/SIGTERM.
      Stores the plants' reports on recommendations. --propose runs the reference tuning rule
      (rules.ts) and sends what it proposes, signed with the supplier key in DIR.
  supplier-cloud rotate-key --keys DIR --grace DURATION [--config FILE [--plant ID]...]
      A new cloud key; old keys are accepted for DURATION (e.g. 24h). With --config the signed
      announcement is published, retained, on each plant's down topic (all registered plants
      unless --plant is given). --republish publishes the last announcement again instead.
  supplier-cloud status (--config FILE | --db FILE) [--json]
      Per plant: stored batches, last sequence, gaps, refusals, state.
${RECOMMEND_USAGE}${REPORTS_USAGE}${FIRMWARE_USAGE}  supplier-cloud --help
`;

type Io = {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Resolves when \`receive\` should stop; SIGINT or SIGTERM unless given (tests). */
  stopSignal?: Promise<unknown>;
  env?: Record<string, string | undefined>;
  /** The receiver's clock (tests). */
  now?: () => number;
};

const stdio: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** Runs the CLI; resolves with the exit code (`receive` resolves only when stopped). */
export async function runSupplierCloudCli(argv: string[], io: Io = stdio): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return command === undefined ? 2 : 0;
  }
  try {
    switch (command) {
      case 'keygen':
        return keygen(rest, io);
      case 'provision':
        return provision(rest, io);
      case 'receive':
        return await receive(rest, io);
      case 'rotate-key':
        return await rotate(rest, io);
      case 'status':
        return status(rest, io);
      case 'recommend':
        return await runRecommendCommand(rest, io);
      case 'reports':
        return runReportsCommand(rest, io);
      case 'firmware':
        return await runFirmwareCommand(rest, io);
    }
  } catch (err) {
    if (err instanceof ConsoleError) {
      io.err(`supplier-cloud: ${err.message}\n`);
      return err.code === 'BAD_REQUEST' ? 2 : 1;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) return usageError(io, err.message);
    throw err;
  }
  return usageError(io, `unknown command "${command}"`);
}

function usageError(io: Io, message: string): number {
  io.err(`supplier-cloud: ${message}\nRun "supplier-cloud --help" for usage.\n`);
  return 2;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new ConsoleError('BAD_REQUEST', `${flag} is required`);
  return value;
}

function keygen(argv: string[], io: Io): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      out: { type: 'string' },
      'plant-id': { type: 'string' },
      force: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const r = generateSupplierKeys({
    dir: required(values.out, '--out'),
    force: values.force,
    ...(values['plant-id'] !== undefined ? { plantId: values['plant-id'] } : {}),
  });
  io.out(values.json ? JSON.stringify(r, null, 2) + '\n' : formatKeygenReport(r));
  return 0;
}

function provision(argv: string[], io: Io): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      keys: { type: 'string' },
      'plant-id': { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
  const r = writePlantProvisioning({
    keysDir: resolve(required(values.keys, '--keys')),
    plantId: required(values['plant-id'], '--plant-id'),
    out: required(values.out, '--out'),
    force: values.force,
  });
  io.out(
    `Provisioning file for plant ${r.plant?.id ?? '?'} (pseudonym ${r.plant?.pseudonym ?? '?'}) written to ${r.path} (mode 0600: it holds the plant's pseudonym key).\n`,
  );
  return 0;
}

const DATA_EVENTS = new Set<ReceiverEvent['event']>([
  'accept',
  'refuse',
  'gap',
  'gap-notice',
  'state',
  'plant-keys',
  'reco-report',
  'reco-sent',
]);

function stopOnSignal(): { promise: Promise<unknown>; dispose: () => void } {
  let onSignal: () => void = () => {};
  const promise = new Promise<void>((r) => (onSignal = r));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { promise, dispose: () => (process.removeListener('SIGINT', onSignal), process.removeListener('SIGTERM', onSignal)) };
}

async function receive(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
      name: { type: 'string' },
      propose: { type: 'boolean', default: false },
      keys: { type: 'string' },
      'propose-after': { type: 'string' },
    },
  });
  const config = loadReceiverConfig(required(values.config, '--config'), io.env ?? process.env);
  if (values.propose && !values.keys)
    throw new ConsoleError('BAD_REQUEST', '--propose needs --keys DIR: the supplier key signs what the rule proposes');
  const firstAfterMs = values['propose-after'] !== undefined ? parseDuration(values['propose-after']) : 60_000;
  const signer = values.propose ? readSupplierSigner(join(resolve(values.keys!), KEY_FILES.supplierSecret)) : null;
  const signal = io.stopSignal ? { promise: io.stopSignal, dispose: () => {} } : stopOnSignal();
  let proposer: Proposer | null = null;
  try {
    const onEvent = (e: ReceiverEvent): void => {
      if (DATA_EVENTS.has(e.event)) io.out((values.json ? eventJson(e) : formatEvent(e)) + '\n');
      else io.err(`supplier-cloud: ${formatEvent(e)}\n`);
    };
    const receiver = await startReceiver(config, {
      ...(values.name !== undefined ? { name: values.name } : {}),
      ...(io.now ? { now: io.now } : {}),
      onEvent,
      onBatch: (b) => proposer?.observe(b),
    });
    if (signer) {
      const { store, publish, name } = receiver;
      proposer = createProposer({
        store,
        plants: config.plants,
        signer,
        publish,
        receiver: name,
        onEvent,
        firstAfterMs,
        ...(io.now ? { now: io.now } : {}),
      });
    }
    io.err(
      `supplier-cloud: receiver ${receiver.name} on ${config.broker.url}, group ${config.group}, ${config.plants.length} plant(s), cloud keys ${receiver.stats().cloudKeyIds.join(', ')}\n`,
    );
    const ended = await Promise.race([signal.promise.then(() => null), receiver.closed]);
    await proposer?.idle();
    await receiver.stop();
    const s = receiver.stats();
    io.err(`supplier-cloud: stopped after ${s.messages} message(s): ${s.accepted} accepted, ${s.refused} refused\n`);
    return ended?.error ? 1 : 0;
  } finally {
    signal.dispose();
    wipe(signer?.secretKey);
  }
}

async function rotate(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      keys: { type: 'string' },
      grace: { type: 'string' },
      config: { type: 'string' },
      plant: { type: 'string', multiple: true },
      republish: { type: 'boolean', default: false },
    },
  });
  const keysDir = resolve(required(values.keys, '--keys'));
  if (values.plant?.length && !values.config)
    throw new ConsoleError('BAD_REQUEST', '--plant needs --config (the registry names the plants and the broker)');
  const config = values.config ? loadReceiverConfig(values.config, io.env ?? process.env) : undefined;
  if (values.republish) {
    if (!config) throw new ConsoleError('BAD_REQUEST', '--republish needs --config');
    const published = await republishAnnouncement(keysDir, config, values.plant);
    for (const p of published) io.out(`published ${join(keysDir, KEY_FILES.announcement)} to plant ${p.plant} on ${p.topic} (retained)\n`);
    return 0;
  }
  const graceMs = parseDuration(required(values.grace, '--grace'));
  const r = await rotateCloudKey({
    keysDir,
    graceMs,
    ...(config ? { publish: { config, ...(values.plant ? { plantIds: values.plant } : {}) } } : {}),
  });
  io.out(
    [
      `New cloud key ${r.kid} (fingerprint ${r.fingerprint}) is current; ${r.previous} is accepted until ${new Date(r.graceUntil).toISOString()}.`,
      ...(r.pruned.length ? [`Removed keys whose grace had ended: ${r.pruned.join(', ')}.`] : []),
      `Announcement signed by the supplier key: ${r.announcementPath}`,
      ...(config
        ? r.published.map((p) => `published to plant ${p.plant} on ${p.topic} (retained)`)
        : [
            'Not published (no --config): publish it with "rotate-key --republish --config FILE" or hand it over with the plant\'s next provisioning.',
          ]),
    ].join('\n') + '\n',
  );
  return 0;
}

function status(argv: string[], io: Io): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { config: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const settings = values.config
    ? loadDatabaseSettings(values.config, io.env ?? process.env)
    : { database: resolve(required(values.db, '--config or --db')) };
  if (!existsSync(settings.database))
    throw new ConsoleError('CONFIG_UNREADABLE', `No receiver database at ${settings.database} (a receiver creates it when it starts)`);
  const store = openCloudStore(settings.database, {
    receiver: 'status',
    ...('databaseKey' in settings && settings.databaseKey ? { key: settings.databaseKey } : {}),
  });
  try {
    const report = statusReport(store, settings.database);
    io.out(values.json ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report));
    return 0;
  } finally {
    store.close();
  }
}
