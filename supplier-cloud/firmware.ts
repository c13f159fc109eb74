/**
 * `supplier-cloud firmware …`: the supplier's release tooling (docs/firmware.md §8). Keys and
 * signatures are minisign's formats, so release engineers may equally use `minisign` itself;
 * what this adds is the manifest, the root document, the trusted comments bound to them, and
 * bundles that are checked before they are written.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseCommand, selectCommand } from '../src-main/core/command-line';
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
import { bad, integer, iso, required, type FirmwareIo } from './firmware-args';
import {
  hashFile,
  readInput,
  readPublicKeyFile,
  readSecretKeyFile,
  refuseOverwrite,
  writeOutput,
  SECRET_FILE_MODE,
} from './firmware-files';
import { FIRMWARE_COMMANDS, FW_BUNDLE, FW_KEYGEN, FW_MANIFEST, FW_ROOT, FW_SIGN, FW_VERIFY } from './firmware-commands';
import { bundle, verify } from './firmware-release';
import { parseDuration } from './rotate';

export type { FirmwareIo } from './firmware-args';

/** Runs `firmware <command> …`; resolves with the exit code. Errors are thrown as ConsoleError. */
export async function runFirmwareCommand(argv: string[], io: FirmwareIo): Promise<number> {
  const { command, rest } = selectCommand(FIRMWARE_COMMANDS, argv);
  const now = io.now ?? Date.now;
  switch (command) {
    case FW_KEYGEN:
      return keygen(rest, io);
    case FW_SIGN:
      return sign(rest, io, now());
    case FW_MANIFEST:
      return await manifest(rest, io, now());
    case FW_ROOT:
      return root(rest, io, now());
    case FW_BUNDLE:
      return bundle(rest, io, now());
    case FW_VERIFY:
      return verify(rest, io, now());
  }
  throw bad(`${command.name} has no handler`);
}

function keygen(argv: string[], io: FirmwareIo): number {
  const { values } = parseCommand(FW_KEYGEN, argv);
  const dir = resolve(values.out);
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
  const { values, positionals } = parseCommand(FW_SIGN, argv);
  const file = resolve(positionals[0]!);
  const keyPath = resolve(values.key);
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
  const { values } = parseCommand(FW_MANIFEST, argv);
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
  const image = await hashFile(resolve(values.image));
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
  const { values } = parseCommand(FW_ROOT, argv);
  const files = values.key ?? [];
  if (!files.length) throw bad('--key is required: one public key file (NAME.pub) per release key');
  const threshold = integer(values.threshold, '--threshold', 1);
  if (threshold > files.length) throw bad(`--threshold ${threshold} is more than the ${files.length} key(s) given`);
  const version = integer(values.version, '--version', 1);
  const out = resolve(values.out);
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
