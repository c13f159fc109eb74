/**
 * The pinned root of trust: the supplier's release keys and how many of them (k of n) must sign
 * a release. The console pins it at provisioning and each module at manufacture; it changes only
 * through a newer root signed by k of the current keys and by k of its own keys (docs/firmware.md §5).
 */
import { z } from 'zod';
import { ConsoleError } from '../core/errors';
import { describeIssue, documentBytes, orThrow, readDocument } from './document';
import { signMinisign, type MinisignSecretKey } from './minisign';
import { refuse, type FirmwareRefusal, type FirmwareRefused } from './refusal';
import { countSignatures, namedKeys } from './threshold';

export const FIRMWARE_ROOT_KIND = 'plant-console/firmware-root/v1';
/** At most this many keys in a root. */
export const FIRMWARE_MAX_ROOT_KEYS = 32;

/** A root document. */
export interface TrustRoot {
  kind: typeof FIRMWARE_ROOT_KIND;
  /** 1, 2, …: each rotation raises it. */
  version: number;
  /** k: distinct keys that must sign a release or the next root. */
  threshold: number;
  /** The release keys; `publicKey` is the minisign public key's base64 line. */
  keys: { name: string; publicKey: string }[];
  /** When the supplier issued it, ms since the epoch. */
  issued: number;
}

/** Key names: what a person calls the key (`release-a`, `ops-2026`). */
export const KEY_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const RootSchema = z
  .object({
    kind: z.literal(FIRMWARE_ROOT_KIND),
    version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    threshold: z.number().int().min(1).max(FIRMWARE_MAX_ROOT_KEYS),
    keys: z
      .array(
        z
          .object({
            name: z.string().regex(KEY_NAME, 'a key name is 1–64 of a–z 0–9 . _ - (starting with a letter or digit)'),
            publicKey: z.string().max(100),
          })
          .strict(),
      )
      .min(1)
      .max(FIRMWARE_MAX_ROOT_KEYS),
    issued: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .strict();

/** The trusted comment a signature of root version `version` carries. */
export function rootTrustedComment(version: number): string {
  return `plant-console firmware-root v${version}`;
}

function checkRoot(value: Record<string, unknown>): { ok: true; value: TrustRoot } | FirmwareRefused {
  const parsed = RootSchema.safeParse(value);
  if (!parsed.success) return refuse('malformed', `The root is invalid ${describeIssue(parsed.error.issues)}.`);
  const root = parsed.data;
  if (root.threshold > root.keys.length)
    return refuse('malformed', `The root needs ${root.threshold} signatures but lists only ${root.keys.length} keys.`);
  const seen = { names: new Set<string>(), keys: new Set<string>(), ids: new Set<string>() };
  for (const k of root.keys) {
    let key;
    try {
      key = namedKeys([k])[0]!.key;
    } catch (err) {
      return refuse('malformed', `Root key ${k.name}: ${(err as Error).message}`);
    }
    const pk = Buffer.from(key.publicKey).toString('hex');
    if (seen.names.has(k.name)) return refuse('malformed', `The root lists the key name ${k.name} twice.`);
    // One key under two names would count twice towards k: refused outright.
    if (seen.keys.has(pk)) return refuse('malformed', `The root lists the public key of ${k.name} twice.`);
    if (seen.ids.has(key.keyId)) return refuse('malformed', `The root lists two keys with the key id ${key.keyId}.`);
    seen.names.add(k.name);
    seen.keys.add(pk);
    seen.ids.add(key.keyId);
  }
  return { ok: true, value: root };
}

function readRoot(bytes: Uint8Array): { ok: true; value: TrustRoot } | FirmwareRefused {
  const doc = readDocument(bytes, FIRMWARE_ROOT_KIND, 'root');
  return doc.ok ? checkRoot(doc.value) : doc;
}

/** Parses a root document's bytes (canonical JSON, 1 ≤ k ≤ n, distinct keys); throws FIRMWARE_INVALID. */
export function parseRoot(bytes: Uint8Array): TrustRoot {
  return orThrow(readRoot(bytes));
}

/** The bytes of a root document (what is signed and pinned); throws FIRMWARE_INVALID if it is not valid. */
export function rootBytes(root: TrustRoot): Buffer {
  const bytes = documentBytes(root);
  parseRoot(bytes);
  return bytes;
}

/** A `.minisig` text for a root's bytes, with the trusted comment of its version. */
export function signRoot(bytes: Uint8Array, key: MinisignSecretKey, untrustedComment?: string): string {
  return signMinisign(bytes, key, rootTrustedComment(parseRoot(bytes).version), untrustedComment);
}

/**
 * Accepts `next` in place of `current` when it is a valid root with a higher version, signed by
 * at least `current.threshold` distinct keys of `current` and by at least `next.threshold`
 * distinct keys of its own, each signature carrying the trusted comment of `next`'s version.
 */
export function verifyRootRotation(
  current: TrustRoot,
  next: { root: Uint8Array; signatures: string[] },
): { ok: true; root: TrustRoot } | { ok: false; code: FirmwareRefusal; message: string } {
  const parsed = readRoot(next.root);
  if (!parsed.ok) return parsed;
  const root = parsed.value;
  const expectedComment = rootTrustedComment(root.version);
  let currentKeys;
  try {
    currentKeys = namedKeys(current.keys);
  } catch (err) {
    throw new ConsoleError('FIRMWARE_INVALID', `The pinned root is invalid: ${(err as Error).message}`, { cause: err });
  }
  const byOld = countSignatures({
    data: next.root,
    signatures: next.signatures,
    keys: currentKeys,
    threshold: current.threshold,
    expectedComment,
    what: `root v${root.version} (by the keys of root v${current.version})`,
  });
  if (!byOld.ok) return byOld;
  // After the signatures: an unsigned "root v1" must not even learn that its version is stale.
  if (root.version <= current.version)
    return refuse('root_rollback', `Root v${root.version} is not newer than the pinned root v${current.version}.`);
  const byNew = countSignatures({
    data: next.root,
    signatures: next.signatures,
    keys: namedKeys(root.keys),
    threshold: root.threshold,
    expectedComment,
    what: `root v${root.version} (by its own keys)`,
  });
  if (!byNew.ok) return byNew;
  return { ok: true, root };
}
