/**
 * The plant's own identity: an Ed25519 signing key pair and an X25519 encryption key pair,
 * generated on first start and kept in the encrypted database (`plant_keys`). Key ids and
 * fingerprints come from the protocol library (src-main/protocol/keys.ts), so the console and
 * the supplier cloud name keys the same way.
 */
import type { Clock } from '../core/types';
import { systemClock } from '../core/types';
import type { Logger } from '../core/log';
import {
  boxKeyPair,
  fingerprint,
  keyId,
  signingKeyPair,
  BOX_SECRET_KEY_BYTES,
  PUBLIC_KEY_BYTES,
  SIGNING_SECRET_KEY_BYTES,
  type BoxKeyPair,
  type KeyAlg,
  type SigningKeyPair,
} from '../protocol/keys';
import { StoreError } from './errors';
import { blobOf, type StoreDb } from './schema';
import { wipe } from './sodium';

/** What may be shown about one of the plant's keys: never the secret. */
export interface PublicKeyInfo {
  use: 'signing' | 'encryption';
  alg: KeyAlg;
  keyId: string;
  fingerprint: string;
  publicKey: Buffer;
  createdAt: number;
}

/** The plant's current key pairs (secrets in memory until `forget`). */
export interface PlantIdentity {
  readonly signing: SigningKeyPair;
  readonly encryption: BoxKeyPair;
  /** Public halves, key ids and fingerprints: what `keys show` prints and the supplier registers. */
  publicKeys(): PublicKeyInfo[];
  /** Zeroes the secret keys held in memory (on close). */
  forget(): void;
}

interface KeyRow {
  key_id: string;
  kind: string;
  public_key: Buffer;
  secret_key: Buffer;
  created_at: number;
}

interface RawKeyRow {
  key_id: string;
  kind: string;
  public_key: unknown;
  secret_key: unknown;
  created_at: number;
}

function currentKeys(db: StoreDb): KeyRow[] {
  return db
    .prepare("SELECT key_id, kind, public_key, secret_key, created_at FROM plant_keys WHERE status = 'current'")
    .all()
    .map((row) => {
      const r = row as RawKeyRow;
      return {
        key_id: r.key_id,
        kind: r.kind,
        public_key: blobOf(r.public_key),
        secret_key: blobOf(r.secret_key),
        created_at: r.created_at,
      };
    });
}

function insertPair(db: StoreDb, alg: KeyAlg, pair: { publicKey: Buffer; secretKey: Buffer; kid: string }, now: number): void {
  db.prepare("INSERT INTO plant_keys (key_id, kind, public_key, secret_key, status, created_at) VALUES (?, ?, ?, ?, 'current', ?)").run([
    pair.kid,
    alg,
    pair.publicKey,
    pair.secretKey,
    now,
  ]);
}

/** Copies a stored key into a Buffer of our own and zeroes the row's copy. */
function take(row: KeyRow, expectedSecret: number): { publicKey: Buffer; secretKey: Buffer } {
  const publicKey = Buffer.from(row.public_key);
  const secretKey = Buffer.from(row.secret_key);
  wipe(row.secret_key);
  if (publicKey.length !== PUBLIC_KEY_BYTES || secretKey.length !== expectedSecret) {
    wipe(secretKey);
    throw new StoreError('key-file-invalid', `The plant's ${row.kind} key ${row.key_id} in the store is malformed`);
  }
  return { publicKey, secretKey };
}

/** Loads the plant identity, generating it (once, in one transaction) on first start. */
export function ensurePlantIdentity(db: StoreDb, opts: { log: Logger; clock?: Clock }): PlantIdentity {
  const now = (opts.clock ?? systemClock).now();
  const created: KeyAlg[] = [];
  db.transaction(() => {
    const have = new Set(currentKeys(db).map((r) => r.kind));
    if (!have.has('ed25519')) {
      const pair = signingKeyPair();
      insertPair(db, 'ed25519', pair, now);
      wipe(pair.secretKey);
      created.push('ed25519');
    }
    if (!have.has('x25519')) {
      const pair = boxKeyPair();
      insertPair(db, 'x25519', pair, now);
      wipe(pair.secretKey);
      created.push('x25519');
    }
  }).immediate();

  const rows = currentKeys(db);
  const sRow = rows.find((r) => r.kind === 'ed25519');
  const bRow = rows.find((r) => r.kind === 'x25519');
  if (!sRow || !bRow) throw new StoreError('key-file-invalid', 'The plant identity is missing from the store');
  const s = take(sRow, SIGNING_SECRET_KEY_BYTES);
  const b = take(bRow, BOX_SECRET_KEY_BYTES);
  for (const r of rows) if (r !== sRow && r !== bRow) wipe(r.secret_key);
  const signing: SigningKeyPair = { alg: 'ed25519', publicKey: s.publicKey, secretKey: s.secretKey, kid: keyId(s.publicKey, 'ed25519') };
  const encryption: BoxKeyPair = { alg: 'x25519', publicKey: b.publicKey, secretKey: b.secretKey, kid: keyId(b.publicKey, 'x25519') };
  if (signing.kid !== sRow.key_id || encryption.kid !== bRow.key_id) {
    throw new StoreError('key-file-invalid', "The plant identity's key ids do not match its public keys");
  }
  const info: PublicKeyInfo[] = [
    {
      use: 'signing',
      alg: 'ed25519',
      keyId: signing.kid,
      fingerprint: fingerprint(signing.publicKey, 'ed25519'),
      publicKey: signing.publicKey,
      createdAt: sRow.created_at,
    },
    {
      use: 'encryption',
      alg: 'x25519',
      keyId: encryption.kid,
      fingerprint: fingerprint(encryption.publicKey, 'x25519'),
      publicKey: encryption.publicKey,
      createdAt: bRow.created_at,
    },
  ];
  if (created.length > 0) {
    opts.log.log('info', 'Generated the plant identity', {
      keys: info.filter((k) => created.includes(k.alg)).map((k) => `${k.alg} ${k.keyId}`),
    });
  }
  return {
    signing,
    encryption,
    publicKeys: () => info.map((k) => ({ ...k, publicKey: Buffer.from(k.publicKey) })),
    forget() {
      wipe(signing.secretKey, encryption.secretKey);
    },
  };
}
