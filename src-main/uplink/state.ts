/**
 * The uplink's small persistent state, kept in the store's `meta` table under `uplink.*` keys
 * (the database is encrypted, so the pseudonym key is protected at rest like the plant's keys):
 * drop counters and the pending gap report, the cloud keyring as announcements changed it, and
 * the pseudonym key when the provisioning file does not carry one.
 */
import { fromHex, keyRingFromJson, keyRingToJson, randomBytes, toHex, type KeyRing } from '../protocol';
import type { StoreDb } from '../store/schema';

export const META = {
  drops: 'uplink.drops',
  gap: 'uplink.gap_pending',
  cloudRing: 'uplink.cloud_ring',
  pseudonymKey: 'uplink.pseudonym_key',
  lastAck: 'uplink.last_ack',
  /** `{ id, pseudonym }` of the plant, recorded when the uplink starts. */
  plant: 'uplink.plant',
} as const;

/** Reads a JSON value from `meta`; undefined when absent or unreadable. */
export function readMetaJson<T>(db: StoreDb, key: string): T | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').raw().get([key]) as [string] | undefined;
  if (!row) return undefined;
  try {
    return JSON.parse(row[0]) as T;
  } catch {
    return undefined;
  }
}

/** Writes a JSON value into `meta` (inside the caller's transaction, if any). */
export function writeMetaJson(db: StoreDb, key: string, value: unknown): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run([
    key,
    JSON.stringify(value),
  ]);
}

/** The pseudonym key: the provisioned one, else the plant's own, made once and kept in the store. */
export function ensurePseudonymKey(db: StoreDb, provisioned?: string): Buffer {
  if (provisioned !== undefined) return fromHex(provisioned, 32)!;
  const stored = readMetaJson<string>(db, META.pseudonymKey);
  const key = stored === undefined ? null : fromHex(stored, 32);
  if (key) return key;
  const fresh = randomBytes(32);
  writeMetaJson(db, META.pseudonymKey, toHex(fresh));
  return fresh;
}

/**
 * The cloud keyring to seal to: the one announcements built up, unless the provisioning file
 * now pins a current key that ring never knew (the plant was re-provisioned): then the file wins.
 */
export function loadCloudRing(db: StoreDb, provisioned: KeyRing<Buffer>): { ring: KeyRing<Buffer>; source: 'store' | 'provisioning' } {
  const stored = readMetaJson<KeyRing<string>>(db, META.cloudRing);
  const ring = stored ? keyRingFromJson(stored) : null;
  if (ring && ring.entries.some((e) => e.kid === provisioned.current)) return { ring, source: 'store' };
  return { ring: provisioned, source: 'provisioning' };
}

/** Persists the cloud keyring (public keys only). */
export function saveCloudRing(db: StoreDb, ring: KeyRing<Uint8Array>): void {
  writeMetaJson(db, META.cloudRing, keyRingToJson(ring));
}
