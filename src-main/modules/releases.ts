/**
 * The console's judgement of a firmware bundle (a file from a USB stick, or the downlink), in
 * the order of docs/firmware.md §7: the archive, the manifest against the pinned root (k
 * distinct keys, the bound trusted comment, expiry), the models this console manages, the image
 * (size, then BLAKE2b-512), then version and security counter against what the modules of that
 * model run, and never the same release twice nor a version reissued with another image. And
 * the same checks again for one module when a maintenance user approves the release for it.
 */
import type { FirmwareRefusalCode } from '../../src-preload/contract';
import { ConsoleError } from '../core/errors';
import {
  compareVersions,
  createImageVerifier,
  parseManifest,
  readBundle,
  verifyManifest,
  type FirmwareManifest,
  type InstalledFirmware,
  type TrustRoot,
} from '../firmware';
import { blake2b } from '../protocol/sodium';

/** What a judged bundle becomes. */
export interface JudgedRelease {
  id: string;
  manifest: FirmwareManifest;
  manifestBytes: Buffer;
  signatures: string[];
  signers: string[];
  image: Uint8Array;
}

export type Judgement = { ok: true; release: JudgedRelease } | { ok: false; code: FirmwareRefusalCode; message: string };

/** A release the console already holds. */
export interface KnownRelease {
  id: string;
  version: string;
  models: readonly string[];
  imageHash: string;
}

/** Where a bundle is judged. */
export interface JudgeContext {
  root: TrustRoot;
  now: number;
  /** Models of the modules this console manages (configured and paired). */
  models: ReadonlySet<string>;
  /** What the modules of a model run now (those that reported it). */
  installed(model: string): InstalledFirmware[];
  known: readonly KnownRelease[];
  /** Largest bundle accepted here. */
  maxBytes: number;
}

/** A release's id: its version and the start of its manifest's BLAKE2b-256 (one manifest, one id). */
export function releaseId(manifest: FirmwareManifest, manifestBytes: Uint8Array): string {
  return `fw-${manifest.version}-${blake2b(manifestBytes, 32).toString('hex').slice(0, 12)}`;
}

function peekModel(bytes: Uint8Array): string {
  try {
    return parseManifest(bytes).models[0] ?? '';
  } catch {
    return '';
  }
}

/** Version and counter of a release against one module's installed firmware; null when it may go on it. */
export function rollbackOf(
  m: FirmwareManifest,
  installed: InstalledFirmware,
): { code: 'version_rollback' | 'version_reissued' | 'counter_rollback'; message: string } | null {
  const order = compareVersions(m.version, installed.version);
  if (order < 0) return { code: 'version_rollback', message: `Firmware ${m.version} is older than the installed ${installed.version}.` };
  if (order === 0 && installed.blake2b512 !== undefined && installed.blake2b512 !== m.image.blake2b512)
    return { code: 'version_reissued', message: `Firmware ${m.version} is installed already, with another image than this one.` };
  if (m.securityCounter < installed.securityCounter)
    return {
      code: 'counter_rollback',
      message: `Firmware ${m.version} has security counter ${m.securityCounter}, lower than the installed ${installed.securityCounter}.`,
    };
  return null;
}

/** Judges a bundle's bytes; never throws for anything in the bundle. */
export function judgeBundle(bytes: Uint8Array, ctx: JudgeContext): Judgement {
  let bundle;
  try {
    bundle = readBundle(bytes, { maxBytes: ctx.maxBytes });
  } catch (err) {
    if (err instanceof ConsoleError) return { ok: false, code: 'malformed', message: err.message };
    throw err;
  }
  const declared = peekModel(bundle.manifest);
  const managed = [...ctx.models];
  // Signatures, expiry and size first; the model is judged against every managed model below.
  const v = verifyManifest({ manifest: bundle.manifest, signatures: bundle.signatures }, ctx.root, {
    now: ctx.now,
    model: declared,
    installed: null,
  });
  if (!v.ok) return { ok: false, code: v.code, message: v.message };
  const m = v.manifest;
  const models = m.models.filter((x) => ctx.models.has(x));
  if (models.length === 0) {
    const have = managed.length ? `this console manages modules of ${managed.sort().join(', ')}` : 'this console manages no module yet';
    return { ok: false, code: 'wrong_model', message: `Firmware ${m.version} is for ${m.models.join(', ')}; ${have}.` };
  }
  const check = createImageVerifier(m);
  try {
    check.update(bundle.image);
  } catch (err) {
    if (err instanceof ConsoleError && err.code === 'FIRMWARE_IMAGE_TOO_LARGE')
      return { ok: false, code: 'image_too_large', message: err.message };
    throw err;
  }
  const image = check.finish();
  if (!image.ok) return { ok: false, code: image.code, message: image.message };
  const id = releaseId(m, bundle.manifest);
  if (ctx.known.some((k) => k.id === id))
    return { ok: false, code: 'duplicate', message: `Firmware ${m.version} (${id}) is imported already.` };
  const reissued = ctx.known.find(
    (k) => k.version === m.version && k.imageHash !== m.image.blake2b512 && k.models.some((x) => m.models.includes(x)),
  );
  if (reissued)
    return {
      ok: false,
      code: 'version_reissued',
      message: `Firmware ${m.version} is held already (${reissued.id}), with another image than this one.`,
    };
  // Useless for every module that reported what it runs: refused as the rollback it would be.
  const installed = models.flatMap((x) => ctx.installed(x));
  const blocked = installed.map((i) => rollbackOf(m, i));
  if (installed.length > 0 && blocked.every((b) => b !== null)) return { ok: false, code: blocked[0]!.code, message: blocked[0]!.message };
  return {
    ok: true,
    release: {
      id,
      manifest: m,
      manifestBytes: Buffer.from(bundle.manifest),
      signatures: bundle.signatures,
      signers: v.signers,
      image: bundle.image,
    },
  };
}

/**
 * Checks a held release for one module again, as approving it for that module needs: the
 * signatures against the root pinned now (a rotation may have removed a key), expiry, the
 * module's model, and its installed version and counter.
 */
export function checkForModule(
  release: { manifest: Uint8Array; signatures: string[] },
  root: TrustRoot,
  ctx: { now: number; model: string; installed: InstalledFirmware | null },
): { ok: true; manifest: FirmwareManifest } | { ok: false; code: FirmwareRefusalCode; message: string } {
  const v = verifyManifest(release, root, { now: ctx.now, model: ctx.model, installed: ctx.installed });
  return v.ok ? { ok: true, manifest: v.manifest } : { ok: false, code: v.code, message: v.message };
}
