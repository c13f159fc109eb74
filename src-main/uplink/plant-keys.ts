/**
 * Rotation of the plant's own Ed25519 signing key (`plant-console keys rotate`, docs/uplink.md
 * §10.2 and §15): a new key pair becomes current, the old one is kept as retired, and the
 * plant-keys announcement, signed by the OLD key, is queued in the uplink outbox — all in one
 * transaction, so a crash leaves either the old key and no announcement or both.
 *
 * The announcement carries no sequence number (§10.2), so it must not take one of the plant's
 * sequence numbers: the cloud would see a gap it can never close. It goes into `uplink_outbox`
 * with a NEGATIVE `seq` instead (counting up from -2^53+1, so several pending announcements keep
 * their order). The forwarder starts every connection from the lowest `seq`, which puts every
 * pending announcement on the wire ahead of every batch, the first one signed by the new key
 * included; it is deleted after its PUBACK like a batch.
 */
import { fingerprint, keyId, signingKeyPair, signingKeyPairFromSecret, type SigningKeyPair } from '../protocol/keys';
import { announcePlantKeys, announcementJson } from '../protocol/rotation';
import { blobOf, type StoreDb } from '../store/schema';
import { wipe } from '../store/sodium';

/** Outbox rows below this `seq` never exist; announcements count up from just above it. */
export const ANNOUNCEMENT_SEQ_FLOOR = Number.MIN_SAFE_INTEGER;

/** What a rotation did (public facts only: ids, fingerprints, times). */
export interface PlantKeyRotation {
  previous: { keyId: string; fingerprint: string };
  next: { keyId: string; fingerprint: string };
  issued: number;
  graceUntil: number;
  /** The announcement's place in the outbox (negative: ahead of every batch). */
  outboxSeq: number;
  /** The announcement as it goes on `pc/v1/<plant>/up/keys` (canonical JSON, signed by the old key). */
  announcement: string;
}

interface SecretRow {
  key_id: string;
  secret_key: unknown;
}

/** Generates a new signing key, retires the current one and queues the announcement; one transaction. */
export function rotatePlantSigningKey(db: StoreDb, opts: { plant: string; now: number; graceMs: number }): PlantKeyRotation {
  const graceUntil = opts.now + opts.graceMs;
  let old: SigningKeyPair | null = null;
  const next = signingKeyPair();
  try {
    return db
      .transaction((): PlantKeyRotation => {
        const row = db.prepare("SELECT key_id, secret_key FROM plant_keys WHERE kind = 'ed25519' AND status = 'current'").get() as
          SecretRow | undefined;
        if (!row) throw new Error('the store holds no current signing key');
        const stored = blobOf(row.secret_key);
        old = signingKeyPairFromSecret(stored);
        wipe(stored);
        if (old.kid !== row.key_id) throw new Error(`the stored signing key ${row.key_id} does not match its key id`);
        db.prepare("UPDATE plant_keys SET status = 'retired', retired_at = ? WHERE key_id = ?").run([opts.now, old.kid]);
        db.prepare(
          "INSERT INTO plant_keys (key_id, kind, public_key, secret_key, status, created_at) VALUES (?, 'ed25519', ?, ?, 'current', ?)",
        ).run([next.kid, next.publicKey, next.secretKey, opts.now]);
        const doc = announcePlantKeys({
          plant: opts.plant,
          issued: opts.now,
          graceUntil,
          oldSigner: old,
          nextSigningPublicKey: next.publicKey,
        });
        const text = announcementJson(doc);
        const low = (db.prepare('SELECT max(seq) FROM uplink_outbox WHERE seq < 0').raw().get() as [number | null] | undefined)?.[0];
        const seq = (low ?? ANNOUNCEMENT_SEQ_FLOOR) + 1;
        db.prepare("INSERT INTO uplink_outbox (seq, kind, machine, bytes, created_at) VALUES (?, 'keys', NULL, ?, ?)").run([
          seq,
          Buffer.from(text, 'utf8'),
          opts.now,
        ]);
        return {
          previous: { keyId: old.kid, fingerprint: fingerprint(old.publicKey, 'ed25519') },
          next: { keyId: next.kid, fingerprint: fingerprint(next.publicKey, 'ed25519') },
          issued: opts.now,
          graceUntil,
          outboxSeq: seq,
          announcement: text,
        };
      })
      .immediate();
  } finally {
    wipe(next.secretKey, (old as SigningKeyPair | null)?.secretKey);
  }
}

/**
 * The key the cloud still knows this plant by while announcements wait in the outbox: the
 * signer of the oldest one (its `kid`), loaded from the retired keys; null when none waits.
 * State messages go out before the outbox drains, so they are signed with it until then.
 */
export function handoverSigner(db: StoreDb): SigningKeyPair | null {
  const row = db.prepare("SELECT bytes FROM uplink_outbox WHERE seq < 0 AND kind = 'keys' ORDER BY seq LIMIT 1").raw().get() as
    [unknown] | undefined;
  if (!row) return null;
  let kid: unknown;
  try {
    kid = (JSON.parse(blobOf(row[0]).toString('utf8')) as { kid?: unknown }).kid;
  } catch {
    return null;
  }
  if (typeof kid !== 'string') return null;
  const key = db.prepare("SELECT secret_key FROM plant_keys WHERE key_id = ? AND kind = 'ed25519'").raw().get([kid]) as
    [unknown] | undefined;
  if (!key) return null;
  const stored = blobOf(key[0]);
  const pair = signingKeyPairFromSecret(stored);
  wipe(stored);
  return pair.kid === kid ? pair : null;
}

/** Every Ed25519 public key the plant has signed with, current and retired (for verifying what they signed). */
export function signingPublicKeys(db: StoreDb): { keyId: string; publicKey: Buffer; status: string }[] {
  return (
    db.prepare("SELECT key_id, public_key, status FROM plant_keys WHERE kind = 'ed25519' ORDER BY created_at").raw().all() as [
      string,
      unknown,
      string,
    ][]
  )
    .map(([kid, pk, status]) => ({ keyId: kid, publicKey: Buffer.from(blobOf(pk)), status }))
    .filter((k) => keyId(k.publicKey, 'ed25519') === k.keyId);
}
