/**
 * The supplier's key files (the directory `keygen --out DIR` writes): the cloud's X25519 keyring
 * and the supplier's Ed25519 signing keys, each as a secret file (mode 0600) and a public file.
 * Key ids and fingerprints come from the protocol library so both sides name keys alike.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync, chmodSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { ConsoleError } from '../src-main/core/errors';
import {
  fingerprint,
  fromHex,
  isKeyId,
  keyId,
  randomBytes,
  signingKeyPairFromSecret,
  toHex,
  type KeyRing,
  type SigningKeyPair,
} from '../src-main/protocol';
import { sodium } from '../src-main/protocol/sodium';

/** File names inside a supplier key directory. */
export const KEY_FILES = {
  cloudSecret: 'cloud-keys.secret.json',
  cloudPublic: 'cloud-keys.public.json',
  supplierSecret: 'supplier-keys.secret.json',
  supplierPublic: 'supplier-keys.public.json',
  provisioning: 'provisioning.json',
  announcement: 'cloud-key-announcement.json',
} as const;

export const SECRET_MODE = 0o600;
export const PUBLIC_MODE = 0o644;

/** A cloud X25519 key pair as the receiver uses it. */
export interface CloudKeyPair {
  publicKey: Buffer;
  secretKey: Buffer;
}

const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters');
const kid = z.string().refine(isKeyId, 'must be a key id (16 hex characters)');
const notAfter = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable();

// `alg`, `fingerprint` and `createdAt` are written by keygen but only informational: a file made
// by other tooling with the members docs/provisioning.md requires is read (a fingerprint given
// is checked against its key).
const CloudKeyEntrySchema = z
  .object({
    kid,
    alg: z.literal('x25519').optional(),
    publicKey: hex32,
    secretKey: hex32.optional(),
    fingerprint: z.string().optional(),
    createdAt: z.string().optional(),
    notAfter: notAfter.optional(),
  })
  .strict();

/** `cloud-keys.secret.json` (with secret keys) and `cloud-keys.public.json` (without). */
export const CloudKeysFileSchema = z
  .object({
    v: z.literal(1),
    type: z.enum(['supplier-cloud/cloud-keys', 'supplier-cloud/cloud-keys-public']),
    current: kid,
    lastIssued: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    keys: z.array(CloudKeyEntrySchema).min(1),
  })
  .strict();
export type CloudKeysFile = z.infer<typeof CloudKeysFileSchema>;

const SupplierKeyEntrySchema = z
  .object({
    kid,
    alg: z.literal('ed25519').optional(),
    publicKey: hex32,
    secretKey: z
      .string()
      .regex(/^[0-9a-f]{128}$/, 'must be 128 hex characters (seed ‖ public key)')
      .optional(),
    fingerprint: z.string().optional(),
    createdAt: z.string().optional(),
  })
  .strict();

/** `supplier-keys.secret.json` and `supplier-keys.public.json`. */
export const SupplierKeysFileSchema = z
  .object({
    v: z.literal(1),
    type: z.enum(['supplier-cloud/supplier-keys', 'supplier-cloud/supplier-keys-public']),
    current: kid,
    keys: z.array(SupplierKeyEntrySchema).min(1),
  })
  .strict();
export type SupplierKeysFile = z.infer<typeof SupplierKeysFileSchema>;

/** Writes a file whole or not at all (temp file, fsync, rename) with exactly `mode`. */
export function writeFileAtomic(path: string, text: string, mode: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${toHex(randomBytes(4))}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  // The umask can only remove bits; chmod makes a public file readable whatever it is.
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConsoleError('CONFIG_UNREADABLE', `Cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ConsoleError('CONFIG_INVALID', `${what} ${path} is not JSON`, { cause: err });
  }
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, path: string, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.map(String).join('.') : '(root)';
    throw new ConsoleError('CONFIG_INVALID', `${what} ${path} is invalid at ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** A fingerprint written beside a key must be that key's (a mixed-up file is refused, not trusted). */
function checkFingerprint(path: string, k: { kid: string; fingerprint?: string | undefined }, pk: Buffer, alg: 'ed25519' | 'x25519'): void {
  if (k.fingerprint !== undefined && k.fingerprint !== fingerprint(pk, alg))
    throw new ConsoleError(
      'CONFIG_INVALID',
      `Key file ${path}: the fingerprint of ${k.kid} is not its public key's (${fingerprint(pk, alg)})`,
    );
}

/** The cloud's X25519 ring from a key file; every secret key is checked against its public key. */
export function readCloudKeyring(path: string): KeyRing<CloudKeyPair> {
  const file = parseWith(CloudKeysFileSchema, readJson(path, 'cloud key file'), path, 'Cloud key file');
  const entries = file.keys.map((k) => {
    const publicKey = Buffer.from(k.publicKey, 'hex');
    const secretKey = k.secretKey ? Buffer.from(k.secretKey, 'hex') : null;
    if (!secretKey)
      throw new ConsoleError('CONFIG_INVALID', `Cloud key file ${path} holds no secret key for ${k.kid}: give the .secret.json file`);
    if (keyId(publicKey, 'x25519') !== k.kid)
      throw new ConsoleError('CONFIG_INVALID', `Cloud key file ${path}: key id ${k.kid} does not match its public key`);
    checkFingerprint(path, k, publicKey, 'x25519');
    const derived = Buffer.alloc(32);
    sodium.crypto_scalarmult_base(derived, secretKey);
    if (!derived.equals(publicKey))
      throw new ConsoleError('CONFIG_INVALID', `Cloud key file ${path}: the secret key of ${k.kid} does not belong to its public key`);
    return { kid: k.kid, key: { publicKey, secretKey }, notAfter: k.notAfter ?? null };
  });
  if (!entries.some((e) => e.kid === file.current))
    throw new ConsoleError('CONFIG_INVALID', `Cloud key file ${path}: the current key ${file.current} is not in it`);
  return { current: file.current, entries, lastIssued: file.lastIssued ?? 0 };
}

/** The ring as the secret file's JSON, with the creation times it had (new keys: now). */
export function cloudKeysFile(ring: KeyRing<CloudKeyPair>, createdAt: Map<string, string>, withSecrets: boolean): CloudKeysFile {
  return {
    v: 1,
    type: withSecrets ? 'supplier-cloud/cloud-keys' : 'supplier-cloud/cloud-keys-public',
    current: ring.current,
    lastIssued: ring.lastIssued,
    keys: ring.entries.map((e) => ({
      kid: e.kid,
      alg: 'x25519' as const,
      publicKey: toHex(e.key.publicKey),
      ...(withSecrets ? { secretKey: toHex(e.key.secretKey) } : {}),
      fingerprint: fingerprint(e.key.publicKey, 'x25519'),
      createdAt: createdAt.get(e.kid) ?? new Date().toISOString(),
      notAfter: e.notAfter,
    })),
  };
}

/** Creation times recorded in an existing cloud key file (kept across rotations). */
export function cloudKeyCreationTimes(path: string): Map<string, string> {
  if (!existsSync(path)) return new Map();
  const file = parseWith(CloudKeysFileSchema, readJson(path, 'cloud key file'), path, 'Cloud key file');
  return new Map(file.keys.flatMap((k) => (k.createdAt === undefined ? [] : [[k.kid, k.createdAt] as const])));
}

/** Writes the secret (0600) and public (0644) cloud key files of a key directory. */
export function writeCloudKeyring(dir: string, ring: KeyRing<CloudKeyPair>, createdAt: Map<string, string>): void {
  writeFileAtomic(join(dir, KEY_FILES.cloudSecret), JSON.stringify(cloudKeysFile(ring, createdAt, true), null, 2) + '\n', SECRET_MODE);
  writeFileAtomic(join(dir, KEY_FILES.cloudPublic), JSON.stringify(cloudKeysFile(ring, createdAt, false), null, 2) + '\n', PUBLIC_MODE);
}

/** The supplier signing key files' JSON for one key pair. */
export function supplierKeysFile(pair: SigningKeyPair, createdAt: string, withSecrets: boolean): SupplierKeysFile {
  return {
    v: 1,
    type: withSecrets ? 'supplier-cloud/supplier-keys' : 'supplier-cloud/supplier-keys-public',
    current: pair.kid,
    keys: [
      {
        kid: pair.kid,
        alg: 'ed25519',
        publicKey: toHex(pair.publicKey),
        ...(withSecrets ? { secretKey: toHex(pair.secretKey) } : {}),
        fingerprint: fingerprint(pair.publicKey, 'ed25519'),
        createdAt,
      },
    ],
  };
}

/** The supplier's current Ed25519 key pair from `supplier-keys.secret.json`. */
export function readSupplierSigner(path: string): SigningKeyPair {
  const file = parseWith(SupplierKeysFileSchema, readJson(path, 'supplier key file'), path, 'Supplier key file');
  const entry = file.keys.find((k) => k.kid === file.current);
  const secret = entry?.secretKey ? fromHex(entry.secretKey, 64) : null;
  if (!entry || !secret)
    throw new ConsoleError('CONFIG_INVALID', `Supplier key file ${path} holds no secret for its current key: give the .secret.json file`);
  const pair = signingKeyPairFromSecret(secret);
  if (pair.kid !== entry.kid || !pair.publicKey.equals(Buffer.from(entry.publicKey, 'hex')))
    throw new ConsoleError('CONFIG_INVALID', `Supplier key file ${path}: key id ${entry.kid} does not match its key`);
  checkFingerprint(path, entry, pair.publicKey, 'ed25519');
  return pair;
}

/** The supplier's public signing keys (from either supplier key file). */
export function readSupplierPublicKeys(path: string): { kid: string; publicKey: Buffer }[] {
  const file = parseWith(SupplierKeysFileSchema, readJson(path, 'supplier key file'), path, 'Supplier key file');
  return file.keys.map((k) => {
    const publicKey = Buffer.from(k.publicKey, 'hex');
    if (keyId(publicKey, 'ed25519') !== k.kid)
      throw new ConsoleError('CONFIG_INVALID', `Supplier key file ${path}: key id ${k.kid} does not match its public key`);
    checkFingerprint(path, k, publicKey, 'ed25519');
    return { kid: k.kid, publicKey };
  });
}
