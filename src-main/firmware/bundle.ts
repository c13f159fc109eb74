/**
 * A release bundle: one POSIX ustar archive a supplier ships and a plant imports (USB stick) or
 * receives over the downlink, so `tar -tf` lists it and `tar -xf` unpacks it for `minisign -V`.
 * Members, in this order: manifest.json, manifest.json.1.minisig … manifest.json.N.minisig,
 * image.bin (docs/firmware.md §6). The manifest comes first so that a reader can check it before
 * a single image byte is stored. Reading is strict: anything but exactly that is refused.
 */
import { ConsoleError } from '../core/errors';
import { FIRMWARE_MAX_DOCUMENT_BYTES } from './document';
import { FIRMWARE_MAX_IMAGE_BYTES } from './manifest';

/** A release: the manifest's bytes, its `.minisig` texts and the image. */
export interface FirmwareBundle {
  manifest: Uint8Array;
  signatures: string[];
  image: Uint8Array;
}

export const BUNDLE_MANIFEST = 'manifest.json';
export const BUNDLE_IMAGE = 'image.bin';
/** The member name of the i-th signature (1-based). */
export const bundleSignatureName = (i: number): string => `manifest.json.${i}.minisig`;
/** At most this many signatures in a bundle. */
export const FIRMWARE_MAX_SIGNATURES = 32;
const MAX_SIGNATURE_BYTES = 16 * 1024;
/** Largest bundle read unless the caller says otherwise. */
export const FIRMWARE_MAX_BUNDLE_BYTES = FIRMWARE_MAX_IMAGE_BYTES + 1024 * 1024;

const BLOCK = 512;
/** tar's default record (20 blocks): a bundle re-made with `tar` may be zero-padded to it. */
const RECORD = 20 * BLOCK;

function invalid(message: string): ConsoleError {
  return new ConsoleError('FIRMWARE_INVALID', `Not a valid firmware bundle: ${message}`);
}

function octal(value: number, width: number): string {
  // width − 1 digits and a NUL, as POSIX ustar writes numeric fields.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'ascii');
  h.write(octal(0o644, 8), 100, 'ascii'); // mode
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii'); // mtime: the bundle's bytes depend only on its content
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h.write('0', 156, 'ascii'); // regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

function member(name: string, data: Uint8Array): Buffer[] {
  const pad = (BLOCK - (data.byteLength % BLOCK)) % BLOCK;
  return [header(name, data.byteLength), Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(pad)];
}

/** The bundle's bytes: a POSIX ustar archive. */
export function writeBundle(b: FirmwareBundle): Uint8Array {
  if (b.signatures.length < 1 || b.signatures.length > FIRMWARE_MAX_SIGNATURES)
    throw invalid(`a bundle holds 1 to ${FIRMWARE_MAX_SIGNATURES} signatures, not ${b.signatures.length}`);
  if (b.image.byteLength === 0) throw invalid('the image is empty');
  return Buffer.concat([
    ...member(BUNDLE_MANIFEST, b.manifest),
    ...b.signatures.flatMap((s, i) => member(bundleSignatureName(i + 1), Buffer.from(s, 'utf8'))),
    ...member(BUNDLE_IMAGE, b.image),
    Buffer.alloc(2 * BLOCK),
  ]);
}

/** A NUL-terminated (or full-width) ASCII field. */
function text(h: Buffer, at: number, width: number): string {
  const field = h.subarray(at, at + width);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? width : end).toString('latin1');
}

/** A numeric field: octal digits, then NUL or spaces (no base-256, no sign). */
function number(h: Buffer, at: number, width: number, what: string): number {
  const raw = h.subarray(at, at + width).toString('latin1');
  const m = /^ *([0-7]+)[ \0]*$/.exec(raw);
  if (!m || m[1]!.length > 11) throw invalid(`the ${what} field ${JSON.stringify(raw)} is not an octal number`);
  return parseInt(m[1]!, 8);
}

function isZero(b: Buffer): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

interface Entry {
  name: string;
  data: Buffer;
}

function readEntries(buf: Buffer): Entry[] {
  const entries: Entry[] = [];
  let at = 0;
  for (;;) {
    if (at + BLOCK > buf.length) throw invalid('it ends without the end-of-archive blocks');
    const h = buf.subarray(at, at + BLOCK);
    if (isZero(h)) {
      if (at + 2 * BLOCK > buf.length || !isZero(buf.subarray(at + BLOCK, at + 2 * BLOCK)))
        throw invalid('a zero block that is not the end of the archive');
      at += 2 * BLOCK;
      break;
    }
    const stored = number(h, 148, 8, 'checksum');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== stored) throw invalid(`the header at offset ${at} has a bad checksum`);
    if (h.subarray(257, 263).toString('latin1') !== 'ustar\0' || h.subarray(263, 265).toString('latin1') !== '00')
      throw invalid(`the header at offset ${at} is not POSIX ustar`);
    const name = text(h, 0, 100);
    const type = String.fromCharCode(h[156]!);
    if (type !== '0' && type !== '\0') throw invalid(`member ${JSON.stringify(name)} is not a regular file (type ${JSON.stringify(type)})`);
    if (text(h, 345, 155) !== '') throw invalid(`member ${JSON.stringify(name)} has a path prefix`);
    if (name === '' || name.includes('/') || name === '.' || name === '..' || !/^[\x21-\x7e]+$/.test(name))
      throw invalid(`the member name ${JSON.stringify(name)} is not a plain file name`);
    const size = number(h, 124, 12, 'size');
    const start = at + BLOCK;
    const end = start + Math.ceil(size / BLOCK) * BLOCK;
    if (end > buf.length) throw invalid(`member ${name} says ${size} bytes but the archive ends before`);
    entries.push({ name, data: buf.subarray(start, start + size) });
    at = end;
  }
  // Only zero padding up to tar's record size may follow the end-of-archive blocks.
  const rest = buf.subarray(at);
  if (rest.length > 0 && (!isZero(rest) || buf.length % RECORD !== 0 || rest.length >= RECORD))
    throw invalid(`${rest.length} bytes follow the end of the archive`);
  return entries;
}

/**
 * Reads a bundle; throws FIRMWARE_INVALID naming the problem (size, block, checksum, member
 * name, order, duplicate, unknown member, trailing data). Signatures are returned as text,
 * checked only by verifyManifest.
 */
export function readBundle(bytes: Uint8Array, limits: { maxBytes?: number } = {}): FirmwareBundle {
  const max = limits.maxBytes ?? FIRMWARE_MAX_BUNDLE_BYTES;
  if (bytes.byteLength > max) throw invalid(`it has ${bytes.byteLength} bytes, more than the ${max} accepted`);
  if (bytes.byteLength % BLOCK !== 0) throw invalid(`its length ${bytes.byteLength} is not a whole number of 512-byte blocks`);
  const entries = readEntries(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const names = new Set<string>();
  for (const e of entries) {
    if (names.has(e.name)) throw invalid(`member ${e.name} appears twice`);
    names.add(e.name);
  }
  const [first, ...others] = entries;
  const last = others.pop();
  if (!first || first.name !== BUNDLE_MANIFEST)
    throw invalid(`the first member must be ${BUNDLE_MANIFEST}, not ${first?.name ?? 'missing'}`);
  if (!last || last.name !== BUNDLE_IMAGE) throw invalid(`the last member must be ${BUNDLE_IMAGE}, not ${last?.name ?? 'missing'}`);
  if (others.length === 0) throw invalid('it holds no signature');
  if (others.length > FIRMWARE_MAX_SIGNATURES) throw invalid(`it holds ${others.length} signatures; at most ${FIRMWARE_MAX_SIGNATURES}`);
  if (first.data.length > FIRMWARE_MAX_DOCUMENT_BYTES) throw invalid(`its manifest has ${first.data.length} bytes`);
  if (last.data.length === 0) throw invalid('its image is empty');
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const signatures = others.map((e, i) => {
    if (e.name !== bundleSignatureName(i + 1))
      throw invalid(`member ${i + 2} is ${e.name}; expected ${bundleSignatureName(i + 1)} (unknown member or signatures out of order)`);
    if (e.data.length > MAX_SIGNATURE_BYTES) throw invalid(`${e.name} has ${e.data.length} bytes`);
    try {
      return decoder.decode(e.data);
    } catch {
      throw invalid(`${e.name} is not UTF-8 text`);
    }
  });
  // The image is a view of `bytes` (no second copy of up to 256 MiB); the manifest a copy.
  return { manifest: Buffer.from(first.data), signatures, image: last.data };
}
