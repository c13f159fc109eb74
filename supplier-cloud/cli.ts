/**
 * `supplier-cloud` command line: keygen, provision, receive, rotate-key, status, accept-jump, recommend, reports, audit-heads, firmware.
 * bin/supplier-cloud.js sets the exit code from `runSupplierCloudCli`; nothing here exits.
 */
import { join, resolve } from 'node:path';
import { cliErrorExit, defineCommand, defineGroup, parseCommand, selectCommand } from '../src-main/core/command-line';
import { ConsoleError } from '../src-main/core/errors';
import { wipe } from '../src-main/protocol';
import { loadReceiverConfig } from './config';
import { eventJson, formatEvent, type ReceiverEvent } from './events';
import { runFirmwareCommand } from './firmware';
import { FIRMWARE_COMMANDS } from './firmware-commands';
import { AUDIT_HEADS_COMMAND, runAuditHeadsCommand } from './audit-heads';
import { formatKeygenReport, generateSupplierKeys, writePlantProvisioning } from './keygen';
import { KEY_FILES, readSupplierSigner } from './keyfiles';
import { createProposer, type Proposer } from './proposer';
import { startReceiver } from './receiver';
import { RECOMMEND_COMMAND, runRecommendCommand } from './recommend';
import { REPORTS_COMMAND, runReportsCommand } from './reports';
import { parseDuration, republishAnnouncement, rotateCloudKey } from './rotate';
import { ACCEPT_JUMP_COMMAND, openCliStore, runAcceptJump } from './accept-jump';
import { formatStatus, statusReport } from './status';

const KEYGEN_COMMAND = defineCommand({
  name: 'supplier-cloud keygen',
  summary: "the cloud's X25519 key pair, the supplier's Ed25519 signing key pair and a plant's provisioning file",
  details:
    'Secret files get mode 0600, public files 0644; DIR/provisioning.json is for the plant (docs/provisioning.md). Refuses to overwrite existing keys unless --force.',
  options: {
    out: { type: 'string', arg: 'DIR', required: true, help: 'the directory the keys go to' },
    'plant-id': { type: 'string', arg: 'ID', help: "the first plant's id, named in its provisioning file" },
    force: { type: 'boolean', help: 'overwrite existing keys' },
    json: { type: 'boolean', help: 'the result as JSON' },
  },
  examples: ['supplier-cloud keygen --out keys --plant-id acme-lyon-7'],
});

const PROVISION_COMMAND = defineCommand({
  name: 'supplier-cloud provision',
  summary: 'a provisioning file for another plant, from the keys in DIR (with a fresh pseudonym key)',
  details: "The file gets mode 0600: it holds the plant's pseudonym key.",
  options: {
    keys: { type: 'string', arg: 'DIR', required: true, help: 'the keys made by keygen' },
    'plant-id': { type: 'string', arg: 'ID', required: true, help: "the plant's id" },
    out: { type: 'string', arg: 'FILE', required: true, help: 'the provisioning file to write' },
    force: { type: 'boolean', help: 'overwrite an existing file' },
  },
  examples: ['supplier-cloud provision --keys keys --plant-id acme-lyon-8 --out acme-lyon-8.json'],
});

const RECEIVE_COMMAND = defineCommand({
  name: 'supplier-cloud receive',
  summary: "the receiver: verifies, decrypts, deduplicates and stores the plants' uplink; runs until SIGINT/SIGTERM",
  details: `Subscribes with an MQTT 5 shared subscription and prints one line per batch or refused message
(JSON lines with --json); connection changes go to standard error. Also stores the plants' reports on
recommendations. The broker password comes from the variable the configuration names (passwordEnv).`,
  options: {
    config: { type: 'string', arg: 'FILE', required: true, help: 'the receiver configuration (supplier-cloud/README.md)' },
    json: { type: 'boolean', help: 'JSON lines instead of text' },
    name: { type: 'string', arg: 'NAME', help: "this receiver's name in the store and the logs (default: a random one)" },
    propose: { type: 'boolean', help: 'run the reference tuning rule (rules.ts) and send what it proposes; needs --keys' },
    keys: { type: 'string', arg: 'DIR', help: 'the supplier key that signs what --propose sends' },
    'propose-after': { type: 'string', arg: 'DURATION', help: 'how long the rule watches before its first proposal (default 60s)' },
  },
  examples: ['SUPPLIER_CLOUD_MQTT_PASSWORD=... supplier-cloud receive --config cloud.json --name rx-1'],
});

const ROTATE_COMMAND = defineCommand({
  name: 'supplier-cloud rotate-key',
  summary: 'a new cloud key; the old ones are accepted for the grace period',
  details: `With --config the announcement, signed by the supplier key, is published retained on each plant's
down topic (every registered plant unless --plant is given). --republish publishes the last
announcement again instead of rotating.`,
  options: {
    keys: { type: 'string', arg: 'DIR', required: true, help: 'the keys made by keygen' },
    grace: { type: 'string', arg: 'DURATION', help: 'how long the previous key is still accepted (e.g. 24h); required unless --republish' },
    config: { type: 'string', arg: 'FILE', help: 'the receiver configuration: its broker and registered plants' },
    plant: { type: 'string', arg: 'ID', multiple: true, help: 'publish to this plant only' },
    republish: { type: 'boolean', help: 'publish the last announcement again (needs --config)' },
  },
  examples: [
    'supplier-cloud rotate-key --keys keys --grace 24h --config cloud.json',
    'supplier-cloud rotate-key --keys keys --republish --config cloud.json',
  ],
});

const STATUS_COMMAND = defineCommand({
  name: 'supplier-cloud status',
  summary: 'per plant: stored batches, last sequence, gaps, refusals, state',
  usage: '(--config FILE | --db FILE) [--json]',
  options: {
    config: { type: 'string', arg: 'FILE', help: 'the receiver configuration (its database)' },
    db: { type: 'string', arg: 'FILE', help: "the receiver's database file, without a configuration" },
    json: { type: 'boolean', help: 'JSON instead of text' },
  },
  examples: ['supplier-cloud status --config cloud.json'],
});

/** Every command of `supplier-cloud`, for parsing and help. */
export const SUPPLIER_CLOUD = defineGroup({
  name: 'supplier-cloud',
  summary: "the supplier's reference counterpart of Plant Console",
  details: 'See supplier-cloud/README.md, docs/uplink.md, docs/recommendations.md and docs/firmware.md.',
  commands: [
    KEYGEN_COMMAND,
    PROVISION_COMMAND,
    RECEIVE_COMMAND,
    ROTATE_COMMAND,
    STATUS_COMMAND,
    ACCEPT_JUMP_COMMAND,
    RECOMMEND_COMMAND,
    REPORTS_COMMAND,
    AUDIT_HEADS_COMMAND,
    FIRMWARE_COMMANDS,
  ],
});

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
  try {
    const { command, rest } = selectCommand(SUPPLIER_CLOUD, argv);
    switch (command) {
      case KEYGEN_COMMAND:
        return keygen(rest, io);
      case PROVISION_COMMAND:
        return provision(rest, io);
      case RECEIVE_COMMAND:
        return await receive(rest, io);
      case ROTATE_COMMAND:
        return await rotate(rest, io);
      case STATUS_COMMAND:
        return status(rest, io);
      case ACCEPT_JUMP_COMMAND:
        return runAcceptJump(rest, io);
      case RECOMMEND_COMMAND:
        return await runRecommendCommand(rest, io);
      case REPORTS_COMMAND:
        return runReportsCommand(rest, io);
      case AUDIT_HEADS_COMMAND:
        return runAuditHeadsCommand(rest, io);
    }
    if (FIRMWARE_COMMANDS.commands.includes(command)) return await runFirmwareCommand(argv.slice(1), io);
    throw new ConsoleError('INTERNAL', `${command.name} has no handler`);
  } catch (err) {
    return cliErrorExit(err, 'supplier-cloud', io);
  }
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new ConsoleError('BAD_REQUEST', `${flag} is required`);
  return value;
}

function keygen(argv: string[], io: Io): number {
  const { values } = parseCommand(KEYGEN_COMMAND, argv);
  const r = generateSupplierKeys({
    dir: values.out,
    force: values.force,
    ...(values['plant-id'] !== undefined ? { plantId: values['plant-id'] } : {}),
  });
  io.out(values.json ? JSON.stringify(r, null, 2) + '\n' : formatKeygenReport(r));
  return 0;
}

function provision(argv: string[], io: Io): number {
  const { values } = parseCommand(PROVISION_COMMAND, argv);
  const r = writePlantProvisioning({
    keysDir: resolve(values.keys),
    plantId: values['plant-id'],
    out: values.out,
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
  const { values } = parseCommand(RECEIVE_COMMAND, argv);
  const config = loadReceiverConfig(values.config, io.env ?? process.env);
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
  const { values } = parseCommand(ROTATE_COMMAND, argv);
  const keysDir = resolve(values.keys);
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
  const { values } = parseCommand(STATUS_COMMAND, argv);
  const { store, database } = openCliStore(values, io, 'status');
  try {
    const report = statusReport(store, database);
    io.out(values.json ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report));
    return 0;
  } finally {
    store.close();
  }
}
