/**
 * `supplier-cloud firmware bundle` and `verify`: a bundle is written only when its image and
 * signatures match its manifest, and `verify` makes every check a console and a module make
 * (docs/firmware.md §7), exiting 1 with the refusal code when one fails.
 */
import { resolve } from 'node:path';
import { parseCommand } from '../src-main/core/command-line';
import { ConsoleError } from '../src-main/core/errors';
import {
  VERSION_PATTERN,
  createImageVerifier,
  manifestTrustedComment,
  parseManifest,
  parseRoot,
  parseSignature,
  readBundle,
  verifyManifest,
  writeBundle,
  type FirmwareManifest,
  type TrustRoot,
} from '../src-main/firmware';
import { bad, integer, iso, required, type FirmwareIo } from './firmware-args';
import { FW_BUNDLE, FW_VERIFY } from './firmware-commands';
import { readInput, refuseOverwrite, writeOutput } from './firmware-files';

/** The image check of a whole image in memory; too long is a verdict here, not an exception. */
function checkImage(m: FirmwareManifest, image: Uint8Array): { ok: true } | { ok: false; code: string; message: string } {
  const check = createImageVerifier(m);
  try {
    check.update(image);
  } catch (err) {
    if (!(err instanceof ConsoleError)) throw err;
  }
  return check.finish();
}

/** `firmware bundle`. */
export function bundle(argv: string[], io: FirmwareIo, now: number): number {
  const { values } = parseCommand(FW_BUNDLE, argv);
  const manifestPath = resolve(values.manifest);
  const sigPaths = (values.sig ?? []).map((s) => resolve(s));
  if (!sigPaths.length) throw bad('--sig is required: one per signature of the manifest');
  const twice = sigPaths.find((p, i) => sigPaths.indexOf(p) !== i);
  if (twice) throw bad(`--sig ${twice} is given twice`);
  const out = resolve(required(values.out, '--out'));
  refuseOverwrite([out], values.force);
  const mBytes = readInput(manifestPath, 'manifest');
  let m: FirmwareManifest;
  try {
    m = parseManifest(mBytes);
  } catch (err) {
    throw new ConsoleError('FIRMWARE_INVALID', `The manifest ${manifestPath}: ${(err as Error).message}`, { cause: err });
  }
  const comment = manifestTrustedComment(m);
  const signatures = sigPaths.map((p) => {
    const text = readInput(p, 'signature').toString('utf8');
    let sig;
    try {
      sig = parseSignature(text);
    } catch (err) {
      throw new ConsoleError('FIRMWARE_INVALID', `The signature ${p}: ${(err as Error).message}`, { cause: err });
    }
    if (sig.algorithm !== 'ED')
      throw new ConsoleError('FIRMWARE_INVALID', `The signature ${p} is a legacy "Ed" signature; sign again without -l`);
    if (sig.trustedComment !== comment)
      throw new ConsoleError(
        'FIRMWARE_INVALID',
        `The signature ${p} is not for this manifest: its trusted comment is "${sig.trustedComment}", not "${comment}"`,
      );
    return text;
  });
  const imagePath = resolve(required(values.image, '--image'));
  const image = readInput(imagePath, 'image');
  const result = checkImage(m, image);
  if (!result.ok) throw new ConsoleError('FIRMWARE_REFUSED', `The image ${imagePath} does not match the manifest: ${result.message}`);
  let signers = '';
  if (values.root) {
    const r = verifyManifest({ manifest: mBytes, signatures }, parseRoot(readInput(resolve(values.root), 'root')), {
      now,
      model: m.models[0]!,
      installed: null,
    });
    if (!r.ok)
      throw new ConsoleError('FIRMWARE_REFUSED', `The release does not pass the root ${values.root}: refused (${r.code}): ${r.message}`);
    signers = `, signed by ${r.signers.join(', ')} (root checked)`;
  }
  const bytes = writeBundle({ manifest: mBytes, signatures, image });
  writeOutput(out, bytes);
  io.out(
    `Bundle ${out}: firmware ${m.version} for ${m.models.join(', ')}, image ${image.length} bytes, ${signatures.length} signature(s)${signers}; ${bytes.byteLength} bytes (tar -tf lists it).\n`,
  );
  return 0;
}

/** `firmware verify`. */
export function verify(argv: string[], io: FirmwareIo, now: number): number {
  const { values, positionals } = parseCommand(FW_VERIFY, argv);
  const path = resolve(positionals[0]!);
  const model = required(values.model, '--model');
  const hasVersion = values['installed-version'] !== undefined;
  if (hasVersion !== (values['installed-counter'] !== undefined)) throw bad('--installed-version and --installed-counter go together');
  if (hasVersion && !VERSION_PATTERN.test(values['installed-version']!)) throw bad('--installed-version must be MAJOR.MINOR.PATCH');
  const installed = hasVersion
    ? { version: values['installed-version']!, securityCounter: integer(values['installed-counter'], '--installed-counter', 0) }
    : null;
  const at = values.at === undefined ? now : Date.parse(values.at);
  if (!Number.isFinite(at)) throw bad(`--at "${values.at}" is not a time (e.g. 2026-06-01T00:00:00Z)`);
  const rootPath = resolve(required(values.root, '--root'));
  let trust: TrustRoot;
  try {
    trust = parseRoot(readInput(rootPath, 'root'));
  } catch (err) {
    if (!(err instanceof ConsoleError) || err.code !== 'FIRMWARE_INVALID') throw err;
    throw new ConsoleError('FIRMWARE_INVALID', `The root ${rootPath}: ${err.message}`, { cause: err });
  }
  const b = readBundle(readInput(path, 'bundle'));
  const r = verifyManifest(b, trust, { now: at, model, installed });
  if (!r.ok) throw new ConsoleError('FIRMWARE_REFUSED', `refused (${r.code}): ${r.message}`);
  const image = checkImage(r.manifest, b.image);
  if (!image.ok) throw new ConsoleError('FIRMWARE_REFUSED', `refused (${image.code}): ${image.message}`);
  const m = r.manifest;
  io.out(
    [
      `OK  firmware ${m.version} for ${m.models.join(', ')} (security counter ${m.securityCounter}), model ${model}`,
      `  signed by ${r.signers.join(', ')} (${trust.threshold} of ${trust.keys.length} needed, root v${trust.version})`,
      `  image ${m.image.size} bytes, BLAKE2b-512 matches; valid until ${iso(m.expires)}`,
    ].join('\n') + '\n',
  );
  return 0;
}
