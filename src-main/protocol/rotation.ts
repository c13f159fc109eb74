/**
 * Key rotation: keyrings with a grace period, and the two signed announcements.
 *
 * - cloud-key: the supplier announces a new cloud X25519 key, signed by a pinned supplier
 *   Ed25519 key. The plant seals to it from its next batch; the cloud keeps opening batches
 *   sealed to its older keys until `graceUntil`.
 * - plant-keys: the plant announces its new Ed25519 (and optionally X25519) key, signed by its
 *   current (old) Ed25519 key. The cloud accepts batches signed by the old key until `graceUntil`.
 *
 * Keyrings are plain immutable data (JSON-serialisable for public keys): every function
 * returns a new ring, the caller persists it.
 */
import { z } from 'zod';
import { canonicalJson, parseJsonObject, signJson, verifySignedJson, type Signed } from './canonical';
import { fromHex, toHex } from './encoding';
import { isKeyId, keyId, type KeyAlg, type SigningKeyPair } from './keys';
import { schemaProblem } from './payload';
import { isPseudonym } from './pseudonym';
import { findKey, type CloudKeyRecord, type Expiring, type KeyLookup, type PlantKeyRecord, type Refusal } from './refusal';

export const CLOUD_KEY_LABEL = 'plant-console/cloud-key/v1';
export const PLANT_KEYS_LABEL = 'plant-console/plant-keys/v1';
const MAX_ANNOUNCEMENT_BYTES = 64 * 1024;

/** One key of a ring; `notAfter` (ms) ends its grace, null while it is current or unlimited. */
export interface RingEntry<K> {
  kid: string;
  key: K;
  notAfter: number | null;
}

/** The keys a party accepts or uses, the current one first in importance. */
export interface KeyRing<K> {
  current: string;
  entries: RingEntry<K>[];
  /** `issued` of the last announcement applied (ms): older ones are replays. */
  lastIssued: number;
}

/** A ring holding one key, current. */
export function createKeyRing<K>(kid: string, key: K): KeyRing<K> {
  return { current: kid, entries: [{ kid, key, notAfter: null }], lastIssued: 0 };
}

/** The current entry (the key to seal to, or the key a plant must sign announcements with). */
export function currentEntry<K>(ring: KeyRing<K>): RingEntry<K> {
  const e = ring.entries.find((x) => x.kid === ring.current);
  if (!e) throw new Error('keyring has no current entry');
  return e;
}

/**
 * Makes `kid` current; every other key stays accepted until `graceUntil` (or its earlier end).
 * Re-rotating to a key already current changes only `lastIssued`.
 */
export function rotateKeyRing<K>(ring: KeyRing<K>, kid: string, key: K, graceUntil: number, issued = ring.lastIssued): KeyRing<K> {
  const lastIssued = Math.max(ring.lastIssued, issued);
  if (ring.current === kid) return { ...ring, lastIssued };
  const entries = ring.entries
    .filter((e) => e.kid !== kid)
    .map((e) => ({ ...e, notAfter: e.notAfter === null ? graceUntil : Math.min(e.notAfter, graceUntil) }));
  return { current: kid, entries: [...entries, { kid, key, notAfter: null }], lastIssued };
}

/** Drops keys whose grace ended before `now` (never the current one). */
export function pruneKeyRing<K>(ring: KeyRing<K>, now: number): KeyRing<K> {
  return { ...ring, entries: ring.entries.filter((e) => e.kid === ring.current || e.notAfter === null || e.notAfter >= now) };
}

/** The cloud's own X25519 ring as the lookup `openSealed` takes. */
export function cloudKeyLookup(ring: KeyRing<{ publicKey: Uint8Array; secretKey: Uint8Array }>): KeyLookup<CloudKeyRecord> {
  return new Map(ring.entries.map((e) => [e.kid, { publicKey: e.key.publicKey, secretKey: e.key.secretKey, notAfter: e.notAfter }]));
}

/** Every registered plant's signing ring as the lookup `openSealed`/`openPlain` take. */
export function plantKeyLookup(
  plants: Iterable<{ plant: string; plantId?: string; ring: KeyRing<Uint8Array> }>,
): KeyLookup<PlantKeyRecord> {
  const map = new Map<string, PlantKeyRecord>();
  for (const p of plants) {
    for (const e of p.ring.entries) {
      map.set(e.kid, {
        publicKey: e.key,
        plant: p.plant,
        notAfter: e.notAfter,
        ...(p.plantId !== undefined ? { plantId: p.plantId } : {}),
      });
    }
  }
  return map;
}

/** A public-key ring in JSON form (keys as hex), for persistence. */
export function keyRingToJson(ring: KeyRing<Uint8Array>): KeyRing<string> {
  return { ...ring, entries: ring.entries.map((e) => ({ ...e, key: toHex(e.key) })) };
}

/** Reads a public-key ring back from its JSON form; null when it is not one. */
export function keyRingFromJson(json: KeyRing<string>): KeyRing<Buffer> | null {
  const entries: RingEntry<Buffer>[] = [];
  for (const e of json.entries) {
    const key = fromHex(e.key, 32);
    if (!key || !isKeyId(e.kid)) return null;
    entries.push({ kid: e.kid, key, notAfter: e.notAfter });
  }
  if (!entries.some((e) => e.kid === json.current)) return null;
  return { current: json.current, entries, lastIssued: json.lastIssued };
}

const timeMs = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const hexKey = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters');
const kidSchema = z.string().refine(isKeyId, 'must be a key id (16 hex characters)');
const publicKeyRef = z.object({ kid: kidSchema, publicKey: hexKey }).strict();
const signature = { kid: kidSchema, sig: z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 hex characters') };

export const CloudKeyAnnouncementSchema = z
  .object({ v: z.literal(1), type: z.literal('cloud-key'), issued: timeMs, key: publicKeyRef, graceUntil: timeMs, ...signature })
  .strict();
export type CloudKeyAnnouncement = z.infer<typeof CloudKeyAnnouncementSchema>;

export const PlantKeysAnnouncementSchema = z
  .object({
    v: z.literal(1),
    type: z.literal('plant-keys'),
    plant: z.string().refine(isPseudonym, 'must be a pseudonym token'),
    issued: timeMs,
    sign: publicKeyRef,
    box: publicKeyRef.optional(),
    graceUntil: timeMs,
    ...signature,
  })
  .strict();
export type PlantKeysAnnouncement = z.infer<typeof PlantKeysAnnouncementSchema>;

function keyRef(publicKey: Uint8Array, alg: KeyAlg): { kid: string; publicKey: string } {
  return { kid: keyId(publicKey, alg), publicKey: toHex(publicKey) };
}

/** The supplier announces a new cloud X25519 key; old keys stay valid until `graceUntil`. */
export function announceCloudKey(p: {
  cloudPublicKey: Uint8Array;
  issued: number;
  graceUntil: number;
  supplier: SigningKeyPair;
}): Signed<CloudKeyAnnouncement> {
  const doc = {
    v: 1 as const,
    type: 'cloud-key' as const,
    issued: p.issued,
    key: keyRef(p.cloudPublicKey, 'x25519'),
    graceUntil: p.graceUntil,
  };
  return signJson(CLOUD_KEY_LABEL, doc, p.supplier);
}

/** The plant announces its new key(s), signed by its current (old) Ed25519 key. */
export function announcePlantKeys(p: {
  plant: string;
  issued: number;
  graceUntil: number;
  oldSigner: SigningKeyPair;
  nextSigningPublicKey: Uint8Array;
  nextBoxPublicKey?: Uint8Array;
}): Signed<PlantKeysAnnouncement> {
  const doc = {
    v: 1 as const,
    type: 'plant-keys' as const,
    plant: p.plant,
    issued: p.issued,
    sign: keyRef(p.nextSigningPublicKey, 'ed25519'),
    ...(p.nextBoxPublicKey ? { box: keyRef(p.nextBoxPublicKey, 'x25519') } : {}),
    graceUntil: p.graceUntil,
  };
  return signJson(PLANT_KEYS_LABEL, doc, p.oldSigner);
}

/** The wire text of an announcement (canonical JSON). */
export function announcementJson(doc: CloudKeyAnnouncement | PlantKeysAnnouncement): string {
  return canonicalJson(doc);
}

type Parsed<T> = { ok: true; doc: T; json: Record<string, unknown> } | Refusal;

function parseAnnouncement<T>(input: string | Uint8Array | Record<string, unknown>, schema: z.ZodType<T>): Parsed<T> {
  const json = typeof input === 'string' || input instanceof Uint8Array ? parseJsonObject(input, MAX_ANNOUNCEMENT_BYTES) : input;
  if (!json) return { ok: false, reason: 'malformed', detail: 'not a JSON object in UTF-8' };
  if (json.v !== 1)
    return { ok: false, reason: typeof json.v === 'number' ? 'unsupported_version' : 'malformed', detail: `version ${String(json.v)}` };
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: 'malformed', detail: schemaProblem(parsed.error) };
  return { ok: true, doc: parsed.data, json };
}

function refKeyMismatch(ref: { kid: string; publicKey: string }, alg: KeyAlg): Refusal | null {
  return keyId(Buffer.from(ref.publicKey, 'hex'), alg) === ref.kid
    ? null
    : { ok: false, reason: 'malformed', detail: `key id ${ref.kid} is not the id of the announced ${alg} key` };
}

function issuedRefusal(issued: number, lastIssued: number): Refusal | null {
  if (issued > lastIssued) return null;
  if (issued === lastIssued)
    return { ok: false, reason: 'duplicate_sequence', detail: `announcement issued at ${issued} was already applied` };
  return { ok: false, reason: 'replay', detail: `announcement issued at ${issued} is older than the last applied (${lastIssued})` };
}

/**
 * The plant applies a cloud-key announcement to its ring of cloud public keys. Checks:
 * malformed → unsupported version → malformed (schema, key id) → unknown key id (signer not a
 * pinned supplier key) → bad signature → duplicate (same `issued`) / replay (older `issued`).
 */
export function applyCloudKeyAnnouncement(
  ring: KeyRing<Uint8Array>,
  input: string | Uint8Array | Record<string, unknown>,
  opts: { supplierKeys: KeyLookup<{ publicKey: Uint8Array } & Expiring>; now: number },
): { ok: true; ring: KeyRing<Uint8Array>; announcement: CloudKeyAnnouncement } | Refusal {
  const p = parseAnnouncement(input, CloudKeyAnnouncementSchema);
  if (!p.ok) return p;
  const bad = refKeyMismatch(p.doc.key, 'x25519');
  if (bad) return bad;
  const signer = findKey(opts.supplierKeys, p.doc.kid, opts.now);
  if (!signer.ok) return { ok: false, reason: 'unknown_key_id', detail: `supplier ${signer.detail}` };
  if (!verifySignedJson(CLOUD_KEY_LABEL, p.json, signer.key.publicKey)) {
    return { ok: false, reason: 'bad_signature', detail: `the announcement does not verify with supplier key ${p.doc.kid}` };
  }
  const stale = issuedRefusal(p.doc.issued, ring.lastIssued);
  if (stale) return stale;
  const next = rotateKeyRing(ring, p.doc.key.kid, Buffer.from(p.doc.key.publicKey, 'hex'), p.doc.graceUntil, p.doc.issued);
  return { ok: true, ring: next, announcement: p.doc };
}

/**
 * The cloud applies a plant-keys announcement to that plant's signing ring. Checks:
 * malformed → unsupported version → malformed (schema, key ids) → unknown key id (signer is
 * not the plant's current key) → bad signature → wrong plant → duplicate / replay.
 * Returns the new signing ring and, when announced, the plant's new X25519 key.
 */
export function applyPlantKeysAnnouncement(
  ring: KeyRing<Uint8Array>,
  input: string | Uint8Array | Record<string, unknown>,
  opts: { plant: string; now: number },
): { ok: true; ring: KeyRing<Uint8Array>; box?: { kid: string; publicKey: Buffer }; announcement: PlantKeysAnnouncement } | Refusal {
  const p = parseAnnouncement(input, PlantKeysAnnouncementSchema);
  if (!p.ok) return p;
  const bad = refKeyMismatch(p.doc.sign, 'ed25519') ?? (p.doc.box ? refKeyMismatch(p.doc.box, 'x25519') : null);
  if (bad) return bad;
  // Only the current key may hand over: a retired key still in its grace must not.
  if (p.doc.kid !== ring.current)
    return { ok: false, reason: 'unknown_key_id', detail: `key id ${p.doc.kid} is not the plant's current signing key` };
  const current = findKey(new Map(ring.entries.map((e) => [e.kid, { publicKey: e.key, notAfter: e.notAfter }])), p.doc.kid, opts.now);
  if (!current.ok) return { ok: false, reason: 'unknown_key_id', detail: current.detail };
  if (!verifySignedJson(PLANT_KEYS_LABEL, p.json, current.key.publicKey)) {
    return { ok: false, reason: 'bad_signature', detail: `the announcement does not verify with plant key ${p.doc.kid}` };
  }
  if (p.doc.plant !== opts.plant)
    return { ok: false, reason: 'wrong_plant', detail: `the announcement is for plant ${p.doc.plant}, not ${opts.plant}` };
  const stale = issuedRefusal(p.doc.issued, ring.lastIssued);
  if (stale) return stale;
  const next = rotateKeyRing(ring, p.doc.sign.kid, Buffer.from(p.doc.sign.publicKey, 'hex'), p.doc.graceUntil, p.doc.issued);
  const box = p.doc.box ? { kid: p.doc.box.kid, publicKey: Buffer.from(p.doc.box.publicKey, 'hex') } : undefined;
  return box ? { ok: true, ring: next, box, announcement: p.doc } : { ok: true, ring: next, announcement: p.doc };
}
