/**
 * `supplier-cloud firmware …`: the supplier's release tooling (docs/firmware.md §8). Keys and
 * signatures are minisign's formats, so release engineers may equally use `minisign` itself;
 * what this adds is the manifest, the root document, the trusted comments bound to them, and
 * bundles that are checked before they are written.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  FIRMWARE_MANIFEST_KIND,
  FIRMWARE_ROOT_KIND,
  KEY_NAME,
  MODEL_PATTERN,
  VERSION_PATTERN,
  formatPublicKey,
  formatSecretKey,
  generateMinisignKeyPair,
  manifestBytes,
  manifestTrustedComment,
  parseManifest,
  parseRoot,
  publicKeyLine,
  rootBytes,
  rootTrustedComment,
  signMinisign,
  type FirmwareManifest,
  type TrustRoot,
} from '../src-main/firmware';
import { wipe } from '../src-main/protocol';
import { bad, integer, iso, one, required, type FirmwareIo } from './firmware-args';
import {
  hashFile,
  readInput,
  readPublicKeyFile,
  readSecretKeyFile,
  refuseOverwrite,
  writeOutput,
  SECRET_FILE_MODE,
} from './firmware-files';
import { bundle, verify } from './firmware-release';
import { parseDuration } from './rotate';

export type { FirmwareIo } from './firmware-args';

/** Usage lines of the firmware commands (part of `supplier-cloud --help`). */
export const FIRMWARE_USAGE = `  supplier-cloud firmware keygen --out DIR [--name NAME] [--force]
      A release key pair: DIR/NAME.pub (minisign public key) and DIR/NAME.key (unencrypted, mode 0600).
  supplier-cloud firmware sign --key FILE.key FILE [--out SIG] [--trusted-comment T] [--force]
      FILE.minisig (or SIG). For a manifest or a root the trusted comment is derived from it.
  supplier-cloud firmware manifest --model M [--model M2] --version V --counter N --image IMG
      [--expires 90d] [--notes TEXT] --out manifest.json [--force]
  supplier-cloud firmware root --key A.pub --key B.pub ... --threshold K --version N --out root.json [--force]
  supplier-cloud firmware bundle --manifest manifest.json --sig S1 [--sig S2 ...] --image IMG --out release.pcfw
      [--root root.json] [--force]   Refuses an image or signature that does not match the manifest.
  supplier-cloud firmware verify --root root.json BUNDLE --model M [--installed-version V --installed-counter N]
      [--at TIME]   Every check a console and a module make; exit 0 accepted, 1 refused.
`;

/** Runs `firmware <command> …`; resolves with the exit code. Errors are thrown as ConsoleError. */
export async function runFirmwareCommand(argv: string[], io: FirmwareIo): Promise<number> {
  const [command, ...rest] = argv;
  const now = io.now ?? Date.now;
  switch (command) {
    case 'keygen':
      return keygen(rest, io);
    case 'sign':
      return sign(rest, io, now());
    case 'manifest':
      return await manifest(rest, io, now());
    case 'root':
      return root(rest, io, now());
    case 'bundle':
      return bundle(rest, io, now());
    case 'verify':
      return verify(rest, io, now());
    case undefined:
    case '--help':
    case 'help':
      io.out(`supplier-cloud firmware — release keys, manifests, roots and bundles (docs/firmware.md)\n\n${FIRMWARE_USAGE}`);
      return command === undefined ? 2 : 0;
    default:
      throw bad(`unknown firmware command "${command}" (keygen, sign, manifest, root, bundle, verify)`);
  }
}

function keygen(argv: string[], io: FirmwareIo): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { out: { type: 'string' }, name: { type: 'string', default: 'release' }, force: { type: 'boolean', default: false } },
  });
  const dir = resolve(required(values.out, '--out'));
  const name = values.name;
  if (!KEY_NAME.test(name)) throw bad(`--name "${name}" must be 1–64 of a–z 0–9 . _ - (it becomes the key's name in the root)`);
  const pubPath = join(dir, `${name}.pub`);
  const keyPath = join(dir, `${name}.key`);
  refuseOverwrite([pubPath, keyPath], values.force);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw bad(`--out ${dir} exists and is not a directory`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { pub, sec } = generateMinisignKeyPair();
  try {
    writeOutput(keyPath, formatSecretKey(sec), SECRET_FILE_MODE);
  } finally {
    wipe(sec.secretKey);
  }
  writeOutput(pubPath, formatPublicKey(pub, `minisign public key ${pub.keyId} (plant-console release key ${name})`));
  io.out(
    [
      `Release key "${name}", key id ${pub.keyId}`,
      `  0600  ${keyPath}  (secret: keep it offline; it never goes to a console or a module)`,
      `  0644  ${pubPath}`,
      `Public key (for the root document, or minisign -P):`,
      `  ${publicKeyLine(pub)}`,
      `Check a file signed with it: minisign -V -p ${pubPath} -m FILE`,
    ].join('\n') + '\n',
  );
  return 0;
}

/** What a file to be signed is, and the trusted comment bound to it. */
function describeSigned(data: Buffer, path: string, given: string | undefined, now: number): { what: string; comment: string } {
  let kind: unknown;
  try {
    kind = (JSON.parse(data.toString('utf8')) as { kind?: unknown }).kind;
  } catch {
    kind = undefined;
  }
  let derived: { what: string; comment: string } | null = null;
  if (kind === FIRMWARE_MANIFEST_KIND) {
    const m = parseManifest(data);
    derived = {
      what: `firmware manifest ${m.version} for ${m.models.join(', ')} (counter ${m.securityCounter})`,
      comment: manifestTrustedComment(m),
    };
  } else if (kind === FIRMWARE_ROOT_KIND) {
    const r = parseRoot(data);
    derived = { what: `root v${r.version} (${r.threshold} of ${r.keys.length} keys)`, comment: rootTrustedComment(r.version) };
  }
  if (derived) {
    if (given !== undefined && given !== derived.comment)
      throw bad(
        `the trusted comment of a ${kind === FIRMWARE_ROOT_KIND ? 'root' : 'manifest'} is derived from it ("${derived.comment}"); leave out --trusted-comment`,
      );
    return derived;
  }
  // minisign's own default for other files.
  return { what: 'file', comment: given ?? `timestamp:${Math.floor(now / 1000)}\tfile:${basename(path)}\thashed` };
}

function sign(argv: string[], io: FirmwareIo, now: number): number {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      key: { type: 'string' },
      out: { type: 'string' },
      'trusted-comment': { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
  const file = resolve(one(positionals, 'file to sign'));
  const keyPath = resolve(required(values.key, '--key'));
  const out = resolve(values.out ?? `${file}.minisig`);
  refuseOverwrite([out], values.force);
  const data = readInput(file, 'file to sign');
  const { what, comment } = describeSigned(data, file, values['trusted-comment'], now);
  const key = readSecretKeyFile(keyPath);
  try {
    writeOutput(out, signMinisign(data, key, comment, `signature from plant-console release key ${key.keyId}`));
  } finally {
    wipe(key.secretKey);
  }
  io.out(`Signed ${file} (${what}) with key ${key.keyId}: ${out}\n  trusted comment: ${comment}\n`);
  return 0;
}

async function manifest(argv: string[], io: FirmwareIo, now: number): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string', multiple: true },
      version: { type: 'string' },
      counter: { type: 'string' },
      image: { type: 'string' },
      expires: { type: 'string', default: '90d' },
      notes: { type: 'string', default: '' },
      out: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
  const models = (values.model ?? []).flatMap((m) => m.split(',')).map((m) => m.trim());
  if (!models.length) throw bad('--model is required (repeat it, or separate models with commas)');
  for (const m of models) if (!MODEL_PATTERN.test(m)) throw bad(`--model "${m}" must be 1–64 of a–z 0–9 . _ -`);
  if (new Set(models).size !== models.length) throw bad('--model lists a model twice');
  const version = required(values.version, '--version');
  if (!VERSION_PATTERN.test(version)) throw bad(`--version "${version}" must be MAJOR.MINOR.PATCH (e.g. 1.4.0)`);
  const securityCounter = integer(values.counter, '--counter', 0);
  const lifetime = parseDuration(values.expires);
  if (lifetime <= 0) throw bad('--expires must be a positive duration');
  const out = resolve(required(values.out, '--out'));
  refuseOverwrite([out], values.force);
  const image = await hashFile(resolve(required(values.image, '--image')));
  if (image.size === 0) throw bad(`the image ${values.image} is empty`);
  const m: FirmwareManifest = {
    kind: FIRMWARE_MANIFEST_KIND,
    formatVersion: 1,
    models,
    version,
    securityCounter,
    image,
    created: now,
    expires: now + lifetime,
    notes: values.notes,
  };
  writeOutput(out, manifestBytes(m));
  io.out(
    [
      `Manifest of firmware ${version} for ${models.join(', ')} (security counter ${securityCounter}): ${out}`,
      `  image ${image.size} bytes, BLAKE2b-512 ${image.blake2b512.slice(0, 32)}…`,
      `  valid until ${iso(m.expires)}`,
      `Next: k key holders each run "supplier-cloud firmware sign --key NAME.key ${basename(out)} --out ${basename(out)}.NAME.minisig".`,
    ].join('\n') + '\n',
  );
  return 0;
}

function root(argv: string[], io: FirmwareIo, now: number): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      key: { type: 'string', multiple: true },
      threshold: { type: 'string' },
      version: { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
  const files = values.key ?? [];
  if (!files.length) throw bad('--key is required: one public key file (NAME.pub) per release key');
  const threshold = integer(values.threshold, '--threshold', 1);
  if (threshold > files.length) throw bad(`--threshold ${threshold} is more than the ${files.length} key(s) given`);
  const version = integer(values.version, '--version', 1);
  const out = resolve(required(values.out, '--out'));
  refuseOverwrite([out], values.force);
  const keys = files.map((f) => {
    const name = basename(f).replace(/\.pub$/, '');
    if (!KEY_NAME.test(name))
      throw bad(`the key file name ${basename(f)} must be NAME.pub with NAME 1–64 of a–z 0–9 . _ - (it names the key)`);
    return { name, key: readPublicKeyFile(resolve(f)) };
  });
  const doc: TrustRoot = {
    kind: FIRMWARE_ROOT_KIND,
    version,
    threshold,
    keys: keys.map((k) => ({ name: k.name, publicKey: publicKeyLine(k.key) })),
    issued: now,
  };
  let bytes: Buffer;
  try {
    bytes = rootBytes(doc);
  } catch (err) {
    throw bad((err as Error).message);
  }
  writeOutput(out, bytes);
  io.out(
    [
      `Root v${version}: ${threshold} of ${keys.length} keys must sign (${keys.map((k) => `${k.name} ${k.key.keyId}`).join(', ')}): ${out}`,
      version === 1
        ? 'Pin it in consoles (provisioning) and modules (manufacture).'
        : `For the rotation, as many holders of the current root's keys as it requires and ${threshold} holder(s) of these keys sign it: "supplier-cloud firmware sign --key NAME.key ${basename(out)} --out ${basename(out)}.NAME.minisig".`,
    ].join('\n') + '\n',
  );
  return 0;
}
