/**
 * `plant-console keys show`: unlocks the store the way the console does and prints the plant's
 * pseudonym, public keys, key ids and fingerprints for the supplier to register. Never a secret.
 * `plant-console keys rotate`: a new signing key, the old one retired, and the announcement
 * (signed by the old key) queued in the uplink outbox ahead of every batch (uplink/plant-keys.ts).
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { loadConfig } from '../config/load';
import { defineCommand, defineGroup, parseCommand, selectCommand } from '../core/command-line';
import { ConsoleError } from '../core/errors';
import { consoleLogger, type Logger } from '../core/log';
import { fromHex, plantPseudonym } from '../protocol';
import type { PublicKeyInfo } from '../store/identity';
import { storeKeyWrapper } from '../store/key-file';
import { openPlantStore, type PlantStore } from '../store/open';
import type { PassphrasePrompt } from '../store/prompt';
import type { StoreDb } from '../store/schema';
import { DATA_DIR_OPTION } from './user-cli';
import { rotatePlantSigningKey, type PlantKeyRotation } from '../uplink/plant-keys';
import { readProvisioning } from '../uplink/provisioning';
import { META, readMetaJson } from '../uplink/state';

type Out = { out: (s: string) => void; err: (s: string) => void };

/** What the command needs from its surroundings (injected in tests). */
export interface KeysCliDeps {
  env?: Record<string, string | undefined>;
  /** The terminal prompt; null never asks (default: ask when stdin is a TTY). */
  prompt?: PassphrasePrompt | null;
  log?: Logger;
  /** The clock of `rotate` (ms). */
  now?: () => number;
}

/** The plant as the uplink names it; `source` says where the pseudonym came from. */
export interface PlantName {
  id: string;
  pseudonym: string;
  source: 'config' | 'store' | 'demo provisioning';
}

/** The JSON form of `keys show --json`. */
export interface KeysShowReport {
  dataDir: string;
  demo: boolean;
  /** Null until the plant knows its uplink identity (give --config, or start the console with an uplink once). */
  plant: PlantName | null;
  keys: {
    use: PublicKeyInfo['use'];
    alg: PublicKeyInfo['alg'];
    keyId: string;
    fingerprint: string;
    publicKey: string;
    publicKeyHex: string;
    createdAt: string;
  }[];
}

const TITLES: Record<PublicKeyInfo['use'], string> = { signing: 'Signing key (Ed25519)', encryption: 'Encryption key (X25519)' };
const DAY = 86_400_000;

async function openForKeys(dataDir: string, deps: KeysCliDeps): Promise<{ store: PlantStore; dir: string; demo: boolean }> {
  const dir = resolve(dataDir);
  // Only a store created for the demo plant may be opened with the demo key file; openPlantStore
  // then checks the marker in the (decrypted) meta table too.
  const demo = storeKeyWrapper(dir) === 'demo-key-file';
  const store = await openPlantStore({
    dataDir: dir,
    demo,
    create: false,
    log: deps.log ?? consoleLogger('warn'),
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.prompt !== undefined ? { prompt: deps.prompt } : {}),
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0 },
    // The console may be running: it owns the uplink's sequence counter and guard.
    applySequence: false,
  });
  return { store, dir, demo };
}

/** The plant's id and pseudonym: from the config's uplink section, else as the console recorded it, else the demo's provisioning. */
function plantName(db: StoreDb, dir: string, configPath?: string): PlantName | null {
  if (configPath !== undefined) {
    const config = loadConfig(configPath);
    const up = config.uplink;
    if (!up) throw new ConsoleError('CONFIG_INVALID', `${configPath} has no uplink section: the plant has no pseudonym to show`);
    const file = isAbsolute(up.provisioning) ? up.provisioning : resolve(dirname(resolve(configPath)), up.provisioning);
    const plant = readProvisioning(file).provisioning.plant;
    if (plant) return { id: plant.id, pseudonym: plant.pseudonym, source: 'config' };
    const key = fromHex(readMetaJson<string>(db, META.pseudonymKey) ?? '', 32);
    if (up.plantId === undefined || !key) return null;
    const pseudonym = plantPseudonym(key, up.plantId);
    key.fill(0);
    return { id: up.plantId, pseudonym, source: 'config' };
  }
  const recorded = readMetaJson<{ id?: unknown; pseudonym?: unknown }>(db, META.plant);
  if (typeof recorded?.id === 'string' && typeof recorded.pseudonym === 'string')
    return { id: recorded.id, pseudonym: recorded.pseudonym, source: 'store' };
  const demoProvisioning = join(dir, 'demo-cloud', 'provisioning.json');
  const plant = existsSync(demoProvisioning) ? readProvisioning(demoProvisioning).provisioning.plant : undefined;
  return plant ? { id: plant.id, pseudonym: plant.pseudonym, source: 'demo provisioning' } : null;
}

/** Reads the public half of the plant identity of `dataDir` and its pseudonym. */
export async function keysShow(dataDir: string, deps: KeysCliDeps = {}, configPath?: string): Promise<KeysShowReport> {
  const { store, dir, demo } = await openForKeys(dataDir, deps);
  try {
    return {
      dataDir: dir,
      demo,
      plant: plantName(store.db, dir, configPath),
      keys: store.identity.publicKeys().map((k) => ({
        use: k.use,
        alg: k.alg,
        keyId: k.keyId,
        fingerprint: k.fingerprint,
        publicKey: k.publicKey.toString('base64'),
        publicKeyHex: k.publicKey.toString('hex'),
        createdAt: new Date(k.createdAt).toISOString(),
      })),
    };
  } finally {
    store.close();
  }
}

/** The report as text for people. */
export function formatKeysReport(r: KeysShowReport): string {
  const lines = [
    `Plant identity in ${r.dataDir}${r.demo ? ' (SIMULATED demo plant)' : ''}`,
    'Give these public keys to the supplier; compare the fingerprints over a second channel.',
    '',
    r.plant
      ? `Plant ${r.plant.id}  pseudonym ${r.plant.pseudonym}  (topic prefix pc/v1/${r.plant.pseudonym}/)`
      : 'Plant pseudonym: not known yet (give --config FILE with the uplink section, or start the console with its uplink once)',
  ];
  for (const k of r.keys) {
    lines.push(
      '',
      TITLES[k.use],
      `  key id       ${k.keyId}`,
      `  fingerprint  ${k.fingerprint}`,
      `  public key   ${k.publicKey}`,
      `  created      ${k.createdAt}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** `30d`, `12h`, `90m`, `45s` → ms (at least one minute, at most a year). */
export function parseGrace(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  const ms = m ? Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: DAY }[m[2] as 's' | 'm' | 'h' | 'd'] : NaN;
  if (!(ms >= 60_000 && ms <= 366 * DAY))
    throw new ConsoleError('BAD_REQUEST', `--grace must be a duration from 1m to 366d such as 7d or 12h, got "${text}"`);
  return ms;
}

/** The JSON form of `keys rotate --json`. */
export interface KeysRotateReport extends Omit<PlantKeyRotation, 'announcement'> {
  dataDir: string;
  demo: boolean;
  plant: PlantName;
}

/** Rotates the plant's signing key and queues its announcement (see uplink/plant-keys.ts). */
export async function keysRotate(
  dataDir: string,
  opts: { graceMs: number; configPath?: string },
  deps: KeysCliDeps = {},
): Promise<KeysRotateReport> {
  const { store, dir, demo } = await openForKeys(dataDir, deps);
  try {
    const plant = plantName(store.db, dir, opts.configPath);
    if (!plant) {
      throw new ConsoleError(
        'CONFIG_INVALID',
        'keys rotate: the plant pseudonym the announcement names is not known: give --config FILE (the console configuration with its uplink section)',
      );
    }
    const r = rotatePlantSigningKey(store.db, { plant: plant.pseudonym, now: (deps.now ?? Date.now)(), graceMs: opts.graceMs });
    return {
      dataDir: dir,
      demo,
      plant,
      previous: r.previous,
      next: r.next,
      issued: r.issued,
      graceUntil: r.graceUntil,
      outboxSeq: r.outboxSeq,
    };
  } finally {
    store.close();
  }
}

/** What `keys rotate` prints for people. */
export function formatRotateReport(r: KeysRotateReport): string {
  return [
    `Rotated the plant's signing key in ${r.dataDir}${r.demo ? ' (SIMULATED demo plant)' : ''}`,
    `  previous key  ${r.previous.keyId}  retired; the cloud accepts it until ${new Date(r.graceUntil).toISOString()}`,
    `  new key       ${r.next.keyId}  fingerprint ${r.next.fingerprint}`,
    `The announcement, signed by the previous key, waits in the uplink outbox ahead of every batch: it goes to`,
    `pc/v1/${r.plant.pseudonym}/up/keys at the console's next connection, before the first batch signed by the new key.`,
    `A console running now keeps signing with the key it started with: restart it before ${new Date(r.graceUntil).toISOString()}.`,
    '',
  ].join('\n');
}

const KEYS_OPTIONS = {
  'data-dir': DATA_DIR_OPTION,
  config: { type: 'string', arg: 'FILE', help: "the plant configuration: the plant's id and pseudonym come from its uplink section" },
  json: { type: 'boolean', help: 'JSON instead of text' },
} as const;
const UNLOCK =
  'The store is unlocked with the passphrase from PLANT_CONSOLE_PASSPHRASE_FILE, the systemd credential plant-console-passphrase or PLANT_CONSOLE_PASSPHRASE, or asked for on a terminal; exit code 1 when it stays locked.';

/** `plant-console keys show`. */
export const KEYS_SHOW_COMMAND = defineCommand({
  name: 'plant-console keys show',
  summary: "the plant's pseudonym, public keys, key ids and fingerprints, for the supplier to register",
  details: `Never a secret. ${UNLOCK}`,
  options: KEYS_OPTIONS,
  examples: ['plant-console keys show --data-dir /var/lib/plant-console --config plant.json'],
});

/** `plant-console keys rotate`. */
export const KEYS_ROTATE_COMMAND = defineCommand({
  name: 'plant-console keys rotate',
  summary: 'a new signing key; the old one is retired and signs the announcement',
  details: `The announcement waits in the uplink outbox ahead of every batch; the cloud accepts the old key for the grace period. Run it with the console stopped (a running console signs with its old key until restarted). ${UNLOCK}`,
  options: {
    ...KEYS_OPTIONS,
    grace: { type: 'string', arg: 'DURATION', default: '7d', help: 'how long the cloud still accepts the old key (1m–366d)' },
  },
  examples: ['plant-console keys rotate --data-dir /var/lib/plant-console --config plant.json --grace 14d'],
});

/** `plant-console keys …`. */
export const KEYS_COMMANDS = defineGroup({
  name: 'plant-console keys',
  summary: "the plant's public keys, and a rotation of its signing key",
  commands: [KEYS_SHOW_COMMAND, KEYS_ROTATE_COMMAND],
});

/** `keys <subcommand>`; resolves with the exit code, throws ConsoleErrors for the CLI to print. */
export async function runKeysCommand(argv: string[], io: Out, deps: KeysCliDeps = {}): Promise<number> {
  const { command, rest } = selectCommand(KEYS_COMMANDS, argv);
  // Unlock notices (the demo key file warning) go to the command's stderr, below the warn level nothing.
  const withLog = { log: consoleLogger('warn', (line) => io.err(line + '\n')), ...deps };
  if (command === KEYS_ROTATE_COMMAND) {
    const { values } = parseCommand(KEYS_ROTATE_COMMAND, rest);
    const graceMs = parseGrace(values.grace);
    const report = await keysRotate(
      values['data-dir'],
      { graceMs, ...(values.config !== undefined ? { configPath: values.config } : {}) },
      withLog,
    );
    io.out(values.json ? JSON.stringify(report, null, 2) + '\n' : formatRotateReport(report));
    return 0;
  }
  const { values } = parseCommand(KEYS_SHOW_COMMAND, rest);
  const report = await keysShow(values['data-dir'], withLog, values.config);
  io.out(values.json ? JSON.stringify(report, null, 2) + '\n' : formatKeysReport(report));
  return 0;
}
