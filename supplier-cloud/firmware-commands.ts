/**
 * The `supplier-cloud firmware` commands as declared for parsing and `--help` (the code that runs
 * them is in firmware.ts and firmware-release.ts; docs/firmware.md §8 is the walk-through).
 */
import { defineCommand, defineGroup } from '../src-main/core/command-line';

const FORCE = { type: 'boolean', help: 'overwrite an existing output file' } as const;

/** `firmware keygen`. */
export const FW_KEYGEN = defineCommand({
  name: 'supplier-cloud firmware keygen',
  summary: 'a release key pair: DIR/NAME.pub (minisign public key) and DIR/NAME.key (unencrypted, mode 0600)',
  details: 'Keep the secret key offline: it never goes to a console or a module. minisign -V accepts what it signs.',
  options: {
    out: { type: 'string', arg: 'DIR', required: true, help: 'the directory the key files go to' },
    name: { type: 'string', arg: 'NAME', default: 'release', help: "the key's name in the root (a–z 0–9 . _ -)" },
    force: FORCE,
  },
  examples: ['supplier-cloud firmware keygen --out release-keys --name anna'],
});

/** `firmware sign`. */
export const FW_SIGN = defineCommand({
  name: 'supplier-cloud firmware sign',
  summary: 'a minisign signature of FILE; for a manifest or a root the trusted comment is derived from it',
  options: {
    key: { type: 'string', arg: 'FILE.key', required: true, help: 'the secret release key' },
    out: { type: 'string', arg: 'SIG', help: 'the signature file (default FILE.minisig)' },
    'trusted-comment': { type: 'string', arg: 'TEXT', help: "the trusted comment of another file (default minisign's own)" },
    force: FORCE,
  },
  args: [{ name: 'FILE', help: 'the file to sign' }],
  examples: ['supplier-cloud firmware sign --key release-keys/anna.key manifest.json --out manifest.json.anna.minisig'],
});

/** `firmware manifest`. */
export const FW_MANIFEST = defineCommand({
  name: 'supplier-cloud firmware manifest',
  summary: 'the manifest of a firmware image: models, version, security counter, size, hash, expiry',
  details: 'Next, k key holders each sign it with "supplier-cloud firmware sign".',
  options: {
    model: { type: 'string', arg: 'M', multiple: true, help: 'a machine model the image is for (or several, comma-separated)' },
    version: { type: 'string', arg: 'V', help: 'the firmware version, MAJOR.MINOR.PATCH' },
    counter: { type: 'string', arg: 'N', help: 'the security counter: modules refuse anything below the highest they ran' },
    image: { type: 'string', arg: 'IMG', required: true, help: 'the firmware image file' },
    expires: { type: 'string', arg: 'DURATION', default: '90d', help: 'how long the manifest is valid' },
    notes: { type: 'string', arg: 'TEXT', default: '', help: 'release notes shown to maintenance' },
    out: { type: 'string', arg: 'FILE', help: 'the manifest file to write [required]' },
    force: FORCE,
  },
  examples: ['supplier-cloud firmware manifest --model hp200 --version 1.2.0 --counter 3 --image hp200-1.2.0.img --out manifest.json'],
});

/** `firmware root`. */
export const FW_ROOT = defineCommand({
  name: 'supplier-cloud firmware root',
  summary: 'the root of trust: the release keys and how many of them must sign (k of n)',
  details:
    "Version 1 is pinned in consoles (provisioning) and modules (manufacture). A later version is a rotation: holders of the current root's keys and of the new keys sign it.",
  options: {
    key: { type: 'string', arg: 'NAME.pub', multiple: true, help: 'a release public key; the file name names the key' },
    threshold: { type: 'string', arg: 'K', help: 'how many of the keys must sign a release' },
    version: { type: 'string', arg: 'N', help: "the root's version (1, then one more per rotation)" },
    out: { type: 'string', arg: 'FILE', required: true, help: 'the root document to write' },
    force: FORCE,
  },
  examples: ['supplier-cloud firmware root --key a.pub --key b.pub --key c.pub --threshold 2 --version 1 --out root.json'],
});

/** `firmware bundle`. */
export const FW_BUNDLE = defineCommand({
  name: 'supplier-cloud firmware bundle',
  summary: 'the release bundle: manifest, signatures and image in one file; refuses what does not match the manifest',
  options: {
    manifest: { type: 'string', arg: 'FILE', required: true, help: 'the signed manifest' },
    sig: { type: 'string', arg: 'SIG', multiple: true, help: 'a signature of the manifest (one per signer)' },
    image: { type: 'string', arg: 'IMG', help: 'the firmware image the manifest describes' },
    out: { type: 'string', arg: 'FILE', help: 'the bundle to write (.pcfw) [required]' },
    root: { type: 'string', arg: 'FILE', help: 'also check the signatures against this root before writing' },
    force: FORCE,
  },
  examples: [
    'supplier-cloud firmware bundle --manifest manifest.json --sig manifest.json.a.minisig --sig manifest.json.b.minisig --image hp200-1.2.0.img --root root.json --out hp200-1.2.0.pcfw',
  ],
});

/** `firmware verify`. */
export const FW_VERIFY = defineCommand({
  name: 'supplier-cloud firmware verify',
  summary: 'every check a console and a module make on a bundle; exit 0 accepted, 1 refused',
  options: {
    root: { type: 'string', arg: 'FILE', help: 'the root of trust to check against [required]' },
    model: { type: 'string', arg: 'M', help: 'the machine model to install on [required]' },
    'installed-version': { type: 'string', arg: 'V', help: 'the version installed now (with --installed-counter): no downgrade' },
    'installed-counter': { type: 'string', arg: 'N', help: 'the security counter installed now' },
    at: { type: 'string', arg: 'TIME', help: 'check as of this time (ISO), for expiry (default now)' },
  },
  args: [{ name: 'BUNDLE', help: 'the release bundle (.pcfw)' }],
  examples: ['supplier-cloud firmware verify --root root.json --model hp200 hp200-1.2.0.pcfw'],
});

/** `supplier-cloud firmware …`. */
export const FIRMWARE_COMMANDS = defineGroup({
  name: 'supplier-cloud firmware',
  summary: 'release keys, manifests, roots and bundles (docs/firmware.md)',
  commands: [FW_KEYGEN, FW_SIGN, FW_MANIFEST, FW_ROOT, FW_BUNDLE, FW_VERIFY],
});
