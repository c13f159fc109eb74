/**
 * The firmware manifest and the checks made on it, in the order of docs/firmware.md §7, by the
 * console and again by every module against its own pinned root. What is signed is the manifest
 * file's bytes (canonical JSON); each signature's trusted comment repeats the manifest's kind,
 * models, version and counter, so a signature made for a root or another manifest cannot pass.
 */
import { z } from 'zod';
import { ConsoleError } from '../core/errors';
import { describeIssue, documentBytes, orThrow, readDocument } from './document';
import { signMinisign, type MinisignSecretKey } from './minisign';
import { refuse, type FirmwareRefusal } from './refusal';
import type { TrustRoot } from './root';
import { countSignatures, namedKeys } from './threshold';

export { FIRMWARE_REFUSAL_TEXT, FIRMWARE_REFUSALS, type FirmwareRefusal } from './refusal';
export { createImageVerifier, type ImageVerifier } from './image';

export const FIRMWARE_MANIFEST_KIND = 'plant-console/firmware-manifest/v1';
/** Largest image a manifest may announce unless the caller sets its own (slot) limit. */
export const FIRMWARE_MAX_IMAGE_BYTES = 256 * 1024 * 1024;
/** How far a manifest's `created` may lie in the future of the verifier's clock. */
export const FIRMWARE_CLOCK_SKEW_MS = 10 * 60_000;

/** A firmware manifest. */
export interface FirmwareManifest {
  kind: typeof FIRMWARE_MANIFEST_KIND;
  formatVersion: 1;
  /** Hardware models the image runs on. */
  models: string[];
  /** MAJOR.MINOR.PATCH. */
  version: string;
  /** Raised when a release fixes a vulnerability; never lower than the installed one's. */
  securityCounter: number;
  image: { size: number; blake2b512: string };
  created: number;
  expires: number;
  notes: string;
}

/** The version pattern: three decimal numbers without leading zeros. */
export const VERSION_PATTERN = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;
/** Model names: a–z 0–9 . _ - (no commas: the trusted comment lists them comma-separated). */
export const MODEL_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const ManifestSchema = z
  .object({
    kind: z.literal(FIRMWARE_MANIFEST_KIND),
    formatVersion: z.literal(1),
    models: z
      .array(z.string().regex(MODEL_PATTERN, 'a model is 1–64 of a–z 0–9 . _ -'))
      .min(1)
      .max(32)
      .refine((m) => new Set(m).size === m.length, 'models must be distinct'),
    version: z.string().regex(VERSION_PATTERN, 'the version is MAJOR.MINOR.PATCH'),
    securityCounter: time,
    image: z
      .object({
        size: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
        blake2b512: z.string().regex(/^[0-9a-f]{128}$/, 'the image hash is 128 lowercase hex digits'),
      })
      .strict(),
    created: time,
    expires: time,
    notes: z.string().max(16 * 1024),
  })
  .strict()
  .refine((m) => m.expires > m.created, { message: 'expires must be after created', path: ['expires'] });

/** The trusted comment every signature of this manifest carries. */
export function manifestTrustedComment(m: Pick<FirmwareManifest, 'models' | 'version' | 'securityCounter'>): string {
  return `plant-console firmware-manifest v1 model=${m.models.join(',')} version=${m.version} counter=${m.securityCounter}`;
}

function readManifest(bytes: Uint8Array): { ok: true; value: FirmwareManifest } | { ok: false; code: FirmwareRefusal; message: string } {
  const doc = readDocument(bytes, FIRMWARE_MANIFEST_KIND, 'manifest');
  if (!doc.ok) return doc;
  const parsed = ManifestSchema.safeParse(doc.value);
  if (!parsed.success) return refuse('malformed', `The manifest is invalid ${describeIssue(parsed.error.issues)}.`);
  return { ok: true, value: parsed.data };
}

/** Parses a manifest's bytes (canonical JSON, every field checked); throws FIRMWARE_INVALID. */
export function parseManifest(bytes: Uint8Array): FirmwareManifest {
  return orThrow(readManifest(bytes));
}

/** The bytes of a manifest (what is signed); throws FIRMWARE_INVALID if it is not valid. */
export function manifestBytes(m: FirmwareManifest): Buffer {
  const bytes = documentBytes(m);
  parseManifest(bytes);
  return bytes;
}

/** A `.minisig` text for a manifest's bytes, with the trusted comment derived from it. */
export function signManifest(bytes: Uint8Array, key: MinisignSecretKey, untrustedComment?: string): string {
  return signMinisign(bytes, key, manifestTrustedComment(parseManifest(bytes)), untrustedComment);
}

function versionParts(v: string): [number, number, number] {
  const m = VERSION_PATTERN.exec(v);
  if (!m) throw new ConsoleError('FIRMWARE_INVALID', `"${v}" is not a firmware version (MAJOR.MINOR.PATCH).`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Orders two MAJOR.MINOR.PATCH versions numerically: negative, 0 or positive. */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [versionParts(a), versionParts(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return 0;
}

/** What the module runs now (null: nothing installed yet, e.g. at manufacture). */
export interface InstalledFirmware {
  version: string;
  securityCounter: number;
  /** The installed image's hash, when known: the same version with another image is refused. */
  blake2b512?: string;
}

/** Where and when a manifest is checked. */
export interface ManifestContext {
  now: number;
  model: string;
  installed: InstalledFirmware | null;
  /** The slot size (default FIRMWARE_MAX_IMAGE_BYTES). */
  maxImageBytes?: number;
  /** Tolerated clock difference for `created` (default FIRMWARE_CLOCK_SKEW_MS). */
  clockSkewMs?: number;
}

/**
 * Every check of a release's manifest, in order: format and kind, k distinct root keys with the
 * bound trusted comment, expiry, model, size limit, version and security counter against the
 * installed firmware. The image itself is checked while it streams (createImageVerifier).
 */
export function verifyManifest(
  input: { manifest: Uint8Array; signatures: string[] },
  root: TrustRoot,
  ctx: ManifestContext,
): { ok: true; manifest: FirmwareManifest; signers: string[] } | { ok: false; code: FirmwareRefusal; message: string } {
  const read = readManifest(input.manifest);
  if (!read.ok) return read;
  const m = read.value;
  const signed = countSignatures({
    data: input.manifest,
    signatures: input.signatures,
    keys: namedKeys(root.keys),
    threshold: root.threshold,
    expectedComment: manifestTrustedComment(m),
    what: `manifest of ${m.version}`,
  });
  if (!signed.ok) return signed;
  const iso = (t: number) => new Date(t).toISOString();
  if (ctx.now >= m.expires) return refuse('expired', `The manifest of ${m.version} expired at ${iso(m.expires)}.`);
  if (m.created > ctx.now + (ctx.clockSkewMs ?? FIRMWARE_CLOCK_SKEW_MS))
    return refuse('not_yet_valid', `The manifest of ${m.version} was created at ${iso(m.created)}, after this clock's ${iso(ctx.now)}.`);
  if (!m.models.includes(ctx.model))
    return refuse('wrong_model', `Firmware ${m.version} is for ${m.models.join(', ')}, not for model ${ctx.model}.`);
  const max = ctx.maxImageBytes ?? FIRMWARE_MAX_IMAGE_BYTES;
  if (m.image.size > max) return refuse('image_too_large', `The image of ${m.version} has ${m.image.size} bytes; at most ${max} fit.`);
  const installed = ctx.installed;
  if (installed) {
    const order = compareVersions(m.version, installed.version);
    if (order < 0) return refuse('version_rollback', `Firmware ${m.version} is older than the installed ${installed.version}.`);
    if (order === 0 && installed.blake2b512 !== undefined && installed.blake2b512 !== m.image.blake2b512)
      return refuse('version_reissued', `Firmware ${m.version} is installed already, with another image than this one.`);
    if (m.securityCounter < installed.securityCounter)
      return refuse(
        'counter_rollback',
        `Firmware ${m.version} has security counter ${m.securityCounter}, lower than the installed ${installed.securityCounter}.`,
      );
  }
  return { ok: true, manifest: m, signers: signed.signers };
}
