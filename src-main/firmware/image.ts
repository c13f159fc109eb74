/**
 * Checks an image against its manifest while it streams in (download, USB import, slot write):
 * never more bytes than the manifest announced (endless-data attack), then the BLAKE2b-512 hash.
 */
import { timingSafeEqual } from 'node:crypto';
import { ConsoleError } from '../core/errors';
import { sodium, type SodiumApi } from '../protocol/sodium';
import type { FirmwareManifest } from './manifest';

// The streaming hash calls, typed here (protocol/sodium.ts types only what it uses itself).
interface StreamingHash {
  readonly crypto_generichash_STATEBYTES: number;
  crypto_generichash_init(state: Uint8Array, key: Uint8Array | null, outputLength: number): void;
  crypto_generichash_update(state: Uint8Array, input: Uint8Array): void;
  crypto_generichash_final(state: Uint8Array, output: Uint8Array): void;
}
const hash = sodium as SodiumApi & StreamingHash;

/** A streaming BLAKE2b-512, for images too large to hold in memory at once. */
export function imageHasher(): { update(chunk: Uint8Array): void; digest(): Buffer } {
  const state = Buffer.alloc(hash.crypto_generichash_STATEBYTES);
  hash.crypto_generichash_init(state, null, 64);
  return {
    update: (chunk) => hash.crypto_generichash_update(state, chunk),
    digest: () => {
      const out = Buffer.alloc(64);
      hash.crypto_generichash_final(state, out);
      return out;
    },
  };
}

/** A running image check. */
export interface ImageVerifier {
  /** Adds bytes; throws FIRMWARE_IMAGE_TOO_LARGE once more than the manifest's size arrived. */
  update(chunk: Uint8Array): void;
  /** The verdict once every byte arrived. */
  finish(): { ok: true } | { ok: false; code: 'image_mismatch' | 'image_too_large'; message: string };
  /** Bytes accepted so far. */
  readonly received: number;
}

/** Starts checking an image against `manifest.image` (size and BLAKE2b-512). */
export function createImageVerifier(manifest: FirmwareManifest): ImageVerifier {
  const { size, blake2b512 } = manifest.image;
  const hasher = imageHasher();
  let received = 0;
  let tooLarge = false;
  let finished = false;
  return {
    get received() {
      return received;
    },
    update(chunk) {
      if (finished) throw new ConsoleError('INTERNAL', 'The image check has finished already.');
      if (tooLarge || received + chunk.byteLength > size) {
        tooLarge = true;
        throw new ConsoleError(
          'FIRMWARE_IMAGE_TOO_LARGE',
          `The image is longer than the ${size} bytes its manifest (${manifest.version}) announces.`,
        );
      }
      hasher.update(chunk);
      received += chunk.byteLength;
    },
    finish() {
      if (finished) throw new ConsoleError('INTERNAL', 'The image check has finished already.');
      finished = true;
      if (tooLarge)
        return { ok: false, code: 'image_too_large', message: `The image is longer than the ${size} bytes its manifest announces.` };
      if (received !== size)
        return { ok: false, code: 'image_mismatch', message: `The image has ${received} bytes; its manifest announces ${size}.` };
      const digest = hasher.digest();
      if (!timingSafeEqual(digest, Buffer.from(blake2b512, 'hex')))
        return {
          ok: false,
          code: 'image_mismatch',
          message: `The image's BLAKE2b-512 is ${digest.toString('hex').slice(0, 16)}…, its manifest (${manifest.version}) announces ${blake2b512.slice(0, 16)}….`,
        };
      return { ok: true };
    },
  };
}
