/**
 * Generates the firmware test vectors shown in docs/firmware.md §10: two release keys from fixed
 * seeds, a manifest and its two .minisig files, root v1 and a rotation to root v2, and a bundle.
 * Ed25519 is deterministic, so every byte is reproducible. Rewrite the section of the document
 * between its vector markers with:
 *   WRITE_FIRMWARE_VECTORS=1 npx vitest run --project unit test/unit/firmware-vectors.test.ts
 * The seeds here are public test values: never use them for a real release key.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  FIRMWARE_MANIFEST_KIND,
  FIRMWARE_ROOT_KIND,
  formatPublicKey,
  formatSecretKey,
  generateMinisignKeyPair,
  manifestBytes,
  manifestTrustedComment,
  minisignPrehash,
  parseSignature,
  publicKeyLine,
  rootBytes,
  rootTrustedComment,
  signManifest,
  signRoot,
  writeBundle,
  type FirmwareManifest,
  type TrustRoot,
} from '../src-main/firmware';
import { blake2b } from '../src-main/protocol';

/** n bytes counting up from `start`: readable, obviously not secret. */
function counting(start: number, n = 32): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (start + i) & 0xff));
}

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const DAY = 86_400_000;

export const FIRMWARE_VECTOR_INPUTS = {
  seedA: counting(0x00),
  keyIdBytesA: counting(0xa0, 8),
  seedB: counting(0x20),
  keyIdBytesB: counting(0xb0, 8),
  seedC: counting(0x40),
  keyIdBytesC: counting(0xc0, 8),
  image: Buffer.from('{"model":"hp200","version":"1.2.0","cycleScale":0.95}\n'),
  now: T0 + DAY,
};

/** Every vector, as text. */
export function makeFirmwareVectors() {
  const v = FIRMWARE_VECTOR_INPUTS;
  const a = generateMinisignKeyPair({ seed: v.seedA, keyIdBytes: v.keyIdBytesA });
  const b = generateMinisignKeyPair({ seed: v.seedB, keyIdBytes: v.keyIdBytesB });
  const c = generateMinisignKeyPair({ seed: v.seedC, keyIdBytes: v.keyIdBytesC });
  const manifest: FirmwareManifest = {
    kind: FIRMWARE_MANIFEST_KIND,
    formatVersion: 1,
    models: ['hp200'],
    version: '1.2.0',
    securityCounter: 3,
    image: { size: v.image.length, blake2b512: blake2b(v.image, 64).toString('hex') },
    created: T0,
    expires: T0 + 90 * DAY,
    notes: 'Test vector: never install.',
  };
  const mBytes = manifestBytes(manifest);
  const sigA = signManifest(mBytes, a.sec, 'signature from release key a');
  const sigB = signManifest(mBytes, b.sec, 'signature from release key b');
  const parsedA = parseSignature(sigA);
  const rootV1: TrustRoot = {
    kind: FIRMWARE_ROOT_KIND,
    version: 1,
    threshold: 2,
    keys: [
      { name: 'a', publicKey: publicKeyLine(a.pub) },
      { name: 'b', publicKey: publicKeyLine(b.pub) },
    ],
    issued: T0 - DAY,
  };
  const rootV2: TrustRoot = {
    kind: FIRMWARE_ROOT_KIND,
    version: 2,
    threshold: 1,
    keys: [
      { name: 'b', publicKey: publicKeyLine(b.pub) },
      { name: 'c', publicKey: publicKeyLine(c.pub) },
    ],
    issued: T0 + 2 * DAY,
  };
  const v2Bytes = rootBytes(rootV2);
  const bundle = Buffer.from(writeBundle({ manifest: mBytes, signatures: [sigA, sigB], image: v.image }));
  return {
    inputs: {
      seedA: v.seedA.toString('hex'),
      keyIdBytesA: v.keyIdBytesA.toString('hex'),
      seedB: v.seedB.toString('hex'),
      keyIdBytesB: v.keyIdBytesB.toString('hex'),
      seedC: v.seedC.toString('hex'),
      keyIdBytesC: v.keyIdBytesC.toString('hex'),
      image: v.image.toString('utf8'),
      now: v.now,
    },
    keys: Object.fromEntries(
      (
        [
          ['a', a],
          ['b', b],
          ['c', c],
        ] as const
      ).map(([name, k]) => [
        name,
        {
          keyId: k.pub.keyId,
          publicKeyHex: Buffer.from(k.pub.publicKey).toString('hex'),
          pub: formatPublicKey(k.pub),
          key: formatSecretKey(k.sec),
        },
      ]),
    ) as Record<'a' | 'b' | 'c', { keyId: string; publicKeyHex: string; pub: string; key: string }>,
    manifest: {
      json: mBytes.toString('utf8'),
      trustedComment: manifestTrustedComment(manifest),
      prehash: minisignPrehash(mBytes).toString('hex'),
      signatureA: Buffer.from(parsedA.signature).toString('hex'),
      globalSignatureA: Buffer.from(parsedA.globalSignature).toString('hex'),
      minisigA: sigA,
      minisigB: sigB,
    },
    root: {
      v1: rootBytes(rootV1).toString('utf8'),
      v2: v2Bytes.toString('utf8'),
      v2TrustedComment: rootTrustedComment(2),
      v2MinisigA: signRoot(v2Bytes, a.sec, 'signature from release key a'),
      v2MinisigB: signRoot(v2Bytes, b.sec, 'signature from release key b'),
    },
    bundle: { bytes: bundle.length, blake2b256: blake2b(bundle, 32).toString('hex'), firstHeader: bundle.subarray(0, 512).toString('hex') },
  };
}

export type FirmwareVectors = ReturnType<typeof makeFirmwareVectors>;

const fence = (info: string, text: string) => '```' + info + '\n' + text.replace(/\n$/, '') + '\n```';

/** The vector section of docs/firmware.md (between its markers). */
export function renderFirmwareVectors(x: FirmwareVectors = makeFirmwareVectors()): string {
  const hexLines = (hex: string) => hex.match(/.{1,64}/g)!.join('\n');
  return [
    '### 10.1 Inputs',
    '',
    '| input | value |',
    '| --- | --- |',
    ...(['seedA', 'keyIdBytesA', 'seedB', 'keyIdBytesB', 'seedC', 'keyIdBytesC'] as const).map((k) => `| ${k} | \`${x.inputs[k]}\` |`),
    `| image (${Buffer.byteLength(x.inputs.image)} bytes, UTF-8) | \`${x.inputs.image.replace(/\n$/, '\\n')}\` |`,
    `| now (for the checks) | \`${x.inputs.now}\` (${new Date(x.inputs.now).toISOString()}) |`,
    '',
    'The key id bytes are stored in this order in the files; minisign shows them reversed (little-endian).',
    '',
    '### 10.2 Keys',
    '',
    ...(['a', 'b', 'c'] as const).flatMap((n) => [
      `Key ${n}: key id \`${x.keys[n].keyId}\`, Ed25519 public key \`${x.keys[n].publicKeyHex}\`.`,
      '',
      fence('text', `# ${n}.pub\n${x.keys[n].pub}`),
      '',
    ]),
    'The secret key file of key a (unencrypted, as `minisign -G -W` writes one, checksum filled in; a **public test key**):',
    '',
    fence('text', `# a.key\n${x.keys.a.key}`),
    '',
    '### 10.3 Manifest and signatures',
    '',
    `\`manifest.json\` (${Buffer.byteLength(x.manifest.json)} bytes, no final newline):`,
    '',
    fence('json', x.manifest.json),
    '',
    fence(
      'text',
      [
        `# trusted comment\n${x.manifest.trustedComment}`,
        `# BLAKE2b-512(manifest.json): what the ED signature signs\n${hexLines(x.manifest.prehash)}`,
        `# signature of key a = Ed25519(a, prehash)\n${hexLines(x.manifest.signatureA)}`,
        `# global signature of key a = Ed25519(a, signature ‖ UTF-8(trusted comment))\n${hexLines(x.manifest.globalSignatureA)}`,
      ].join('\n\n'),
    ),
    '',
    fence('text', `# manifest.json.1.minisig (key a)\n${x.manifest.minisigA}`),
    '',
    fence('text', `# manifest.json.2.minisig (key b)\n${x.manifest.minisigB}`),
    '',
    '### 10.4 Roots',
    '',
    'Root v1 (keys a and b, 2 of 2), pinned:',
    '',
    fence('json', x.root.v1),
    '',
    'Root v2 (keys b and c, 1 of 2), signed by a and b: two keys of v1 (its threshold) and b, one of its own.',
    '',
    fence('json', x.root.v2),
    '',
    fence('text', `# root.json.1.minisig (key a; trusted comment "${x.root.v2TrustedComment}")\n${x.root.v2MinisigA}`),
    '',
    fence('text', `# root.json.2.minisig (key b)\n${x.root.v2MinisigB}`),
    '',
    '### 10.5 Bundle',
    '',
    `The bundle of the manifest, both signatures and the image: ${x.bundle.bytes} bytes, BLAKE2b-256`,
    `\`${x.bundle.blake2b256}\`. Its first header block (manifest.json):`,
    '',
    fence('text', hexLines(x.bundle.firstHeader)),
  ].join('\n');
}

export const VECTORS_BEGIN = '<!-- firmware-vectors:begin (scripts/make-firmware-vectors.ts) -->';
export const VECTORS_END = '<!-- firmware-vectors:end -->';

/** Replaces the vector section of the document at `path`. */
export function writeFirmwareVectors(path: string): void {
  const doc = readFileSync(path, 'utf8');
  const start = doc.indexOf(VECTORS_BEGIN);
  const end = doc.indexOf(VECTORS_END);
  if (start < 0 || end < start) throw new Error(`${path} has no vector markers`);
  writeFileSync(path, doc.slice(0, start + VECTORS_BEGIN.length) + '\n' + renderFirmwareVectors() + '\n' + doc.slice(end));
}
