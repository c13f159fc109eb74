/**
 * Firmware releases for the module's tests, made with the firmware core's own functions
 * (src-main/firmware): a supplier with n release keys and a k-of-n root, simulated firmware
 * images, manifests signed by any subset of keys (or by strangers), bundles, and root rotations.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FIRMWARE_MANIFEST_KIND,
  FIRMWARE_ROOT_KIND,
  generateMinisignKeyPair,
  manifestBytes,
  publicKeyLine,
  rootBytes,
  signManifest,
  signRoot,
  writeBundle,
  type FirmwareManifest,
  type MinisignSecretKey,
  type TrustRoot,
} from '../../src-main/firmware';
import { blake2b } from '../../src-main/protocol/sodium';
import { encodeFirmwareImage, type FirmwareImage } from '../../device-agent/firmware-image';

export const DAY = 86_400_000;

/** A named release key. */
export interface ReleaseKey {
  name: string;
  sec: MinisignSecretKey;
  publicKey: string;
}

/** Fresh release keys named `release-1`, `release-2`, … (or as given). */
export function releaseKeys(n: number, prefix = 'release'): ReleaseKey[] {
  return Array.from({ length: n }, (_, i) => {
    const { pub, sec } = generateMinisignKeyPair();
    return { name: `${prefix}-${i + 1}`, sec, publicKey: publicKeyLine(pub) };
  });
}

/** A root of `keys` with threshold `k`; its canonical bytes too. */
export function makeRoot(
  keys: readonly ReleaseKey[],
  k: number,
  version = 1,
  issued = Date.now() - DAY,
): { root: TrustRoot; bytes: Buffer } {
  const root: TrustRoot = {
    kind: FIRMWARE_ROOT_KIND,
    version,
    threshold: k,
    keys: keys.map((x) => ({ name: x.name, publicKey: x.publicKey })),
    issued,
  };
  return { root, bytes: rootBytes(root) };
}

/** A root rotation: the new root's bytes signed by `signers`. */
export function signedRoot(root: { bytes: Buffer }, signers: readonly ReleaseKey[]): { root: Buffer; signatures: string[] } {
  return { root: root.bytes, signatures: signers.map((k) => signRoot(root.bytes, k.sec)) };
}

export interface ReleaseOptions {
  version: string;
  securityCounter?: number;
  models?: string[];
  created?: number;
  expires?: number;
  /** The simulated image (model im250 and this version unless given). */
  image?: Partial<FirmwareImage>;
  /** Raw image bytes instead of a simulated image. */
  imageBytes?: Uint8Array;
  /** Overrides of the manifest's image entry (another image's hash, a smaller size). */
  imageEntry?: Partial<FirmwareManifest['image']>;
}

/** A release as the module receives it. */
export interface TestRelease {
  manifest: FirmwareManifest;
  manifestBytes: Buffer;
  image: Uint8Array;
  signatures: string[];
}

/** A manifest and image; sign with `signRelease`. */
export function makeRelease(o: ReleaseOptions, signers: readonly ReleaseKey[]): TestRelease {
  const image = o.imageBytes ?? encodeFirmwareImage({ model: 'im250', ...o.image, version: o.image?.version ?? o.version });
  const created = o.created ?? Date.now() - 60_000;
  const manifest: FirmwareManifest = {
    kind: FIRMWARE_MANIFEST_KIND,
    formatVersion: 1,
    models: o.models ?? ['im250'],
    version: o.version,
    securityCounter: o.securityCounter ?? 1,
    image: { size: image.byteLength, blake2b512: blake2b(image, 64).toString('hex'), ...o.imageEntry },
    created,
    expires: o.expires ?? created + 30 * DAY,
    notes: `test release ${o.version}`,
  };
  const bytes = manifestBytes(manifest);
  return { manifest, manifestBytes: bytes, image, signatures: signers.map((k) => signManifest(bytes, k.sec)) };
}

/** The release as a bundle file's bytes. */
export function bundleOf(r: TestRelease): Uint8Array {
  return writeBundle({ manifest: r.manifestBytes, signatures: r.signatures, image: r.image });
}

/** Writes the root and a bundle of `r` into `dir`; returns their paths. */
export function writeFixtureFiles(
  dir: string,
  root: { bytes: Buffer },
  releases: Record<string, TestRelease>,
): { root: string; bundles: Record<string, string> } {
  mkdirSync(dir, { recursive: true });
  const rootPath = join(dir, 'root.json');
  writeFileSync(rootPath, root.bytes);
  const bundles: Record<string, string> = {};
  for (const [name, r] of Object.entries(releases)) {
    bundles[name] = join(dir, `${name}.bundle`);
    writeFileSync(bundles[name], bundleOf(r));
  }
  return { root: rootPath, bundles };
}
