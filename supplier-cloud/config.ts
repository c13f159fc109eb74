/**
 * The receiver's configuration (`supplier-cloud receive --config FILE`): broker, cloud key
 * files, libsql database, shared-subscription group and the registry of plants. Relative paths
 * are resolved against the configuration file's directory. Passwords come from environment
 * variables, never from the file.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ConsoleError } from '../src-main/core/errors';
import { isIdentifier, isKeyId, isPseudonym, keyId, plantPseudonym, wipe, type KeyRing, type RingEntry } from '../src-main/protocol';
import { readProvisioning } from './provisioning';

const kid = z.string().refine(isKeyId, 'must be a key id (16 hex characters)');

const SigningKeyEntrySchema = z
  .object({
    /** Ed25519 public key: 64 hex characters or the base64 that `plant-console keys show` prints. */
    publicKey: z.string(),
    keyId: kid.optional(),
    /** Accepted until this instant (ms); absent or null: no end. */
    notAfter: z.number().int().min(0).nullable().optional(),
  })
  .strict();

const PlantEntrySchema = z
  .object({
    id: z.string().refine(isIdentifier, 'must be 1–256 characters of well-formed text').optional(),
    pseudonym: z.string().refine(isPseudonym, 'must be a pseudonym token (16 base32 characters)').optional(),
    pseudonymKey: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters')
      .optional(),
    /** The plant's provisioning file: its id and pseudonym key are read from there. */
    provisioning: z.string().optional(),
    signingKeys: z.array(SigningKeyEntrySchema).default([]),
    /** The output of `plant-console keys show --json`: its Ed25519 (and X25519) keys are registered. */
    keysShow: z.string().optional(),
    /** The plant's X25519 key recommendations are sealed to (when no `keysShow` gives it). */
    boxKey: z.object({ publicKey: z.string(), keyId: kid.optional() }).strict().optional(),
  })
  .strict();

export const ReceiverConfigSchema = z
  .object({
    broker: z
      .object({
        url: z.string().regex(/^mqtts?:\/\/[^/]+\/?$/, 'must be mqtts://host:port (or mqtt:// with insecurePlainTcp)'),
        ca: z.string().optional(),
        username: z.string().optional(),
        passwordEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
          .optional(),
        servername: z.string().optional(),
        clientId: z.string().max(64).optional(),
        insecurePlainTcp: z.boolean().default(false),
        keepaliveSeconds: z.number().int().min(5).max(3600).default(30),
        /** 5 (default); 4 only for MQTT 3.1.1 brokers such as the demo's aedes: then no shared subscription. */
        protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
      })
      .strict(),
    /** The cloud's secret key file(s) (`cloud-keys.secret.json`), re-read when they change. */
    cloudKeys: z.union([z.string(), z.array(z.string()).min(1)]),
    database: z.string(),
    /** Environment variable holding a 64-hex-character key that encrypts the database (optional). */
    databaseKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional(),
    group: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 characters [A-Za-z0-9_-]')
      .default('supplier-cloud'),
    /** How far below the highest accepted sequence a late batch may still fill a gap. */
    reorderWindow: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(100_000),
    /** How long a batch signed by an unknown key of a registered plant waits for its key announcement. */
    announcementWaitMs: z.number().int().min(0).max(60_000).default(2000),
    /** How far beyond the highest sequence a plant used so far its next one may be (more: refused as `sequence_jump`). */
    maxSequenceJump: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(100_000),
    /** Batches and refusals received longer ago than this are deleted (hourly); absent: kept for ever. */
    retentionDays: z.number().min(0.01).max(36_500).optional(),
    /**
     * Acknowledge what is stored to the plants (default true). False only for a receiver that keeps
     * a copy beside another one that acknowledges (MQTT 3.1.1, no shared subscription).
     */
    acknowledge: z.boolean().default(true),
    plants: z.array(PlantEntrySchema).min(1),
  })
  .strict();
export type ReceiverConfigInput = z.input<typeof ReceiverConfigSchema>;

/** A registered plant, resolved. */
export interface RegisteredPlant {
  id: string;
  pseudonym: string;
  /** The plant's Ed25519 keys from the registry (announcements recorded in the store come on top). */
  ring: KeyRing<Uint8Array>;
  /** The plant's X25519 key from the registry, for recommendations (an announced one in the store wins). */
  box?: { kid: string; publicKey: Buffer };
}

/** The configuration with paths made absolute, plants resolved and the password read. */
export interface ResolvedReceiverConfig {
  broker: {
    url: string;
    ca?: Buffer;
    username?: string;
    password?: string;
    servername?: string;
    clientId?: string;
    insecurePlainTcp: boolean;
    keepaliveSeconds: number;
    protocolVersion: 4 | 5;
  };
  cloudKeyFiles: string[];
  database: string;
  databaseKey?: string;
  group: string;
  reorderWindow: number;
  announcementWaitMs: number;
  maxSequenceJump: number;
  retentionDays?: number;
  acknowledge: boolean;
  plants: RegisteredPlant[];
}

function invalid(message: string): ConsoleError {
  return new ConsoleError('CONFIG_INVALID', message);
}

function publicKeyBytes(text: string): Buffer | null {
  if (/^[0-9a-f]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    const b = Buffer.from(text, 'base64');
    return b.length === 32 ? b : null;
  }
  return null;
}

interface KeysShowKey {
  use?: unknown;
  alg?: unknown;
  keyId?: unknown;
  publicKeyHex?: unknown;
  publicKey?: unknown;
}

function keysFromKeysShow(path: string, alg: 'ed25519' | 'x25519' = 'ed25519'): { publicKey: string; keyId?: string }[] {
  let doc: { keys?: KeysShowKey[] };
  try {
    doc = JSON.parse(readFileSync(path, 'utf8')) as { keys?: KeysShowKey[] };
  } catch (err) {
    throw new ConsoleError('CONFIG_UNREADABLE', `Cannot read keys show output ${path}: ${(err as Error).message}`, { cause: err });
  }
  const keys = (Array.isArray(doc.keys) ? doc.keys : []).filter((k) => k.alg === alg);
  if (!keys.length && alg === 'ed25519') throw invalid(`${path} lists no Ed25519 key: give the output of "plant-console keys show --json"`);
  return keys.map((k) => {
    const pk = typeof k.publicKeyHex === 'string' ? k.publicKeyHex : String(k.publicKey);
    return typeof k.keyId === 'string' ? { publicKey: pk, keyId: k.keyId } : { publicKey: pk };
  });
}

function boxKeyOf(
  entry: z.infer<typeof PlantEntrySchema>,
  at: (p: string) => string,
  where: string,
): { kid: string; publicKey: Buffer } | undefined {
  const listed = entry.boxKey ?? (entry.keysShow ? keysFromKeysShow(at(entry.keysShow), 'x25519').at(-1) : undefined);
  if (!listed) return undefined;
  const pk = publicKeyBytes(listed.publicKey);
  if (!pk) throw invalid(`${where}: the X25519 key is neither 64 hex characters nor base64 of 32 bytes`);
  const kidOf = keyId(pk, 'x25519');
  if (listed.keyId !== undefined && listed.keyId !== kidOf)
    throw invalid(`${where}: X25519 key id ${listed.keyId} is not the id of its key (${kidOf})`);
  return { kid: kidOf, publicKey: pk };
}

function resolvePlant(entry: z.infer<typeof PlantEntrySchema>, at: (p: string) => string, index: number): RegisteredPlant {
  const where = `plants[${index}]`;
  let id = entry.id;
  let pseudonymKey = entry.pseudonymKey ? Buffer.from(entry.pseudonymKey, 'hex') : undefined;
  if (entry.provisioning) {
    const prov = readProvisioning(at(entry.provisioning));
    if (!prov.plant) throw invalid(`${where}: provisioning file ${entry.provisioning} has no plant section`);
    if (id !== undefined && id !== prov.plant.id) throw invalid(`${where}: id ${id} differs from the provisioning file's ${prov.plant.id}`);
    id = prov.plant.id;
    pseudonymKey = Buffer.from(prov.plant.pseudonymKey, 'hex');
  }
  if (id === undefined) throw invalid(`${where}: needs "id" (or "provisioning")`);
  const derived = pseudonymKey ? plantPseudonym(pseudonymKey, id) : undefined;
  wipe(pseudonymKey);
  if (derived && entry.pseudonym && derived !== entry.pseudonym)
    throw invalid(`${where}: pseudonym ${entry.pseudonym} is not derived from ${id} with its pseudonym key`);
  const pseudonym = derived ?? entry.pseudonym;
  if (!pseudonym) throw invalid(`${where}: needs "pseudonymKey", "pseudonym" or "provisioning" to know plant ${id}'s pseudonym`);

  const listed = [...entry.signingKeys, ...(entry.keysShow ? keysFromKeysShow(at(entry.keysShow)) : [])];
  if (!listed.length) throw invalid(`${where}: plant ${id} has no signing key: add "signingKeys" or "keysShow"`);
  const entries: RingEntry<Uint8Array>[] = [];
  for (const k of listed) {
    const pk = publicKeyBytes(k.publicKey);
    if (!pk) throw invalid(`${where}: a signing key of plant ${id} is neither 64 hex characters nor base64 of 32 bytes`);
    const kidOf = keyId(pk, 'ed25519');
    if (k.keyId !== undefined && k.keyId !== kidOf) throw invalid(`${where}: key id ${k.keyId} is not the id of its public key (${kidOf})`);
    if (entries.some((e) => e.kid === kidOf)) continue;
    entries.push({ kid: kidOf, key: pk, notAfter: 'notAfter' in k && typeof k.notAfter === 'number' ? k.notAfter : null });
  }
  // The last key without an end is the current one (the one that may announce its successor).
  const current = [...entries].reverse().find((e) => e.notAfter === null) ?? entries[entries.length - 1];
  if (!current) throw invalid(`${where}: plant ${id} has no signing key`);
  const box = boxKeyOf(entry, at, where);
  return { id, pseudonym, ring: { current: current.kid, entries, lastIssued: 0 }, ...(box ? { box } : {}) };
}

/** Resolves a parsed or raw configuration object; `baseDir` anchors relative paths. */
export function resolveReceiverConfig(
  raw: unknown,
  baseDir: string,
  env: Record<string, string | undefined> = process.env,
  password?: string,
): ResolvedReceiverConfig {
  const parsed = ReceiverConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`Receiver configuration is invalid at ${issue?.path.map(String).join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const c = parsed.data;
  const at = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  if (c.broker.url.startsWith('mqtt://') && !c.broker.insecurePlainTcp)
    throw invalid('broker.url is plain TCP: use mqtts://, or set "insecurePlainTcp": true explicitly');
  let pw = password;
  if (pw === undefined && c.broker.passwordEnv) {
    pw = env[c.broker.passwordEnv];
    if (pw === undefined || pw === '') throw invalid(`Set the environment variable ${c.broker.passwordEnv} to the broker password`);
  }
  let databaseKey: string | undefined;
  if (c.databaseKeyEnv) {
    databaseKey = env[c.databaseKeyEnv];
    if (!databaseKey || !/^[0-9a-f]{64}$/.test(databaseKey))
      throw invalid(`Set the environment variable ${c.databaseKeyEnv} to the database key (64 hex characters)`);
  }
  let ca: Buffer | undefined;
  if (c.broker.ca) {
    try {
      ca = readFileSync(at(c.broker.ca));
    } catch (err) {
      throw new ConsoleError('CONFIG_UNREADABLE', `Cannot read the broker CA file ${at(c.broker.ca)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  const plants = c.plants.map((p, i) => resolvePlant(p, at, i));
  const dup = plants.find((p, i) => plants.findIndex((q) => q.pseudonym === p.pseudonym || q.id === p.id) !== i);
  if (dup) throw invalid(`Plant ${dup.id} (${dup.pseudonym}) is registered twice`);
  return {
    broker: {
      url: c.broker.url,
      insecurePlainTcp: c.broker.insecurePlainTcp,
      keepaliveSeconds: c.broker.keepaliveSeconds,
      protocolVersion: c.broker.protocolVersion,
      ...(ca ? { ca } : {}),
      ...(c.broker.username !== undefined ? { username: c.broker.username } : {}),
      ...(pw !== undefined ? { password: pw } : {}),
      ...(c.broker.servername !== undefined ? { servername: c.broker.servername } : {}),
      ...(c.broker.clientId !== undefined ? { clientId: c.broker.clientId } : {}),
    },
    cloudKeyFiles: (Array.isArray(c.cloudKeys) ? c.cloudKeys : [c.cloudKeys]).map(at),
    database: at(c.database),
    ...(databaseKey ? { databaseKey } : {}),
    group: c.group,
    reorderWindow: c.reorderWindow,
    announcementWaitMs: c.announcementWaitMs,
    maxSequenceJump: c.maxSequenceJump,
    acknowledge: c.acknowledge,
    ...(c.retentionDays !== undefined ? { retentionDays: c.retentionDays } : {}),
    plants,
  };
}

/** Reads a configuration file (JSON) and resolves it against its own directory. */
export function loadReceiverConfig(path: string, env: Record<string, string | undefined> = process.env): ResolvedReceiverConfig {
  const file = resolve(path);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    throw new ConsoleError('CONFIG_UNREADABLE', `Cannot read receiver configuration ${file}: ${(err as Error).message}`, { cause: err });
  }
  return resolveReceiverConfig(raw, dirname(file), env);
}

/** Only the database settings of a configuration file (`status` needs no broker, keys or password). */
export function loadDatabaseSettings(
  path: string,
  env: Record<string, string | undefined> = process.env,
): { database: string; databaseKey?: string } {
  const file = resolve(path);
  let raw: { database?: unknown; databaseKeyEnv?: unknown };
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as { database?: unknown; databaseKeyEnv?: unknown };
  } catch (err) {
    throw new ConsoleError('CONFIG_UNREADABLE', `Cannot read receiver configuration ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (typeof raw.database !== 'string') throw invalid(`${file} names no "database"`);
  const database = isAbsolute(raw.database) ? raw.database : resolve(dirname(file), raw.database);
  if (typeof raw.databaseKeyEnv !== 'string') return { database };
  const key = env[raw.databaseKeyEnv];
  if (!key || !/^[0-9a-f]{64}$/.test(key))
    throw invalid(`Set the environment variable ${raw.databaseKeyEnv} to the database key (64 hex characters)`);
  return { database, databaseKey: key };
}
