/**
 * Interoperability with the reference tool, Debian's `minisign` (0.11, /usr/bin/minisign):
 * what we sign, `minisign -V` (also with -H, prehashed only) accepts; what `minisign -S` signs
 * with a key made by `minisign -G -W`, verifyMinisign, verifyManifest and verifyRootRotation
 * accept; its legacy signatures (-l) and its default trusted comment are refused.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import {
  FIRMWARE_MANIFEST_KIND,
  FIRMWARE_ROOT_KIND,
  formatPublicKey,
  formatSecretKey,
  generateMinisignKeyPair,
  manifestBytes,
  manifestTrustedComment,
  parsePublicKey,
  parseSecretKey,
  parseSignature,
  publicKeyLine,
  rootBytes,
  rootTrustedComment,
  signManifest,
  signMinisign,
  signRoot,
  verifyManifest,
  verifyMinisign,
  verifyRootRotation,
  type FirmwareManifest,
  type TrustRoot,
} from '../../src-main/firmware';
import { blake2b } from '../../src-main/protocol';
import { describeNeeding } from '../helpers/needs-package';

const MINISIGN = '/usr/bin/minisign';
const dir = mkdtempSync(join(tmpdir(), 'pc-minisign-'));
const T0 = 1_767_225_600_000;
const DAY = 86_400_000;
const image = Buffer.from('simulated hp200 firmware 2.0.0\n'.repeat(100));
const manifest: FirmwareManifest = {
  kind: FIRMWARE_MANIFEST_KIND,
  formatVersion: 1,
  models: ['hp200'],
  version: '2.0.0',
  securityCounter: 5,
  image: { size: image.length, blake2b512: blake2b(image, 64).toString('hex') },
  created: T0,
  expires: T0 + 90 * DAY,
  notes: 'Signed by minisign and by plant-console.',
};
const mBytes = manifestBytes(manifest);
const ctx = { now: T0 + DAY, model: 'hp200', installed: { version: '1.0.0', securityCounter: 1 } };

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function minisign(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    // stdin closed: a password prompt would fail rather than hang.
    const child = execFile(MINISIGN, args, { cwd: dir, env: { PATH: '/usr/bin:/bin', HOME: dir } }, (error, out, err) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out, err }),
    );
    child.stdin?.end();
  });
}

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** A key pair made by `minisign -G -W` (unencrypted), read back with our parsers. */
async function minisignKey(name: string) {
  const r = await minisign(['-G', '-W', '-p', join(dir, `${name}.pub`), '-s', join(dir, `${name}.key`)]);
  expect(r.code, r.err).toBe(0);
  const pub = parsePublicKey(readFileSync(join(dir, `${name}.pub`), 'utf8'));
  const sec = parseSecretKey(readFileSync(join(dir, `${name}.key`), 'utf8'));
  return { pub, sec, keyFile: join(dir, `${name}.key`), pubFile: join(dir, `${name}.pub`) };
}

describeNeeding(['minisign'], existsSync(MINISIGN), 'minisign verifies what we sign', () => {
  it('accepts our public key file and .minisig, also with -H; prints our trusted comment', async () => {
    const { pub, sec } = generateMinisignKeyPair();
    const pubFile = file('ours.pub', formatPublicKey(pub));
    const data = file('data.bin', Buffer.from('any file at all\n'));
    file('data.bin.minisig', signMinisign(readFileSync(data), sec, 'our trusted comment'));
    const r = await minisign(['-V', '-H', '-p', pubFile, '-m', data, '-x', `${data}.minisig`]);
    expect(r).toMatchObject({ code: 0, out: 'Signature and comment signature verified\nTrusted comment: our trusted comment\n' });
    // The inline form: the base64 line alone, as a root document lists it.
    expect((await minisign(['-V', '-P', publicKeyLine(pub), '-m', data])).code).toBe(0);
    // The same check fails on a changed file: the test can fail.
    file('data.bin', Buffer.from('any file at all!\n'));
    const bad = await minisign(['-V', '-p', pubFile, '-m', data]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('Signature verification failed');
  });

  it('accepts our manifest signature, with the bound trusted comment', async () => {
    const { pub, sec } = generateMinisignKeyPair();
    const pubFile = file('release.pub', formatPublicKey(pub));
    const m = file('manifest.json', mBytes);
    file('manifest.json.minisig', signManifest(mBytes, sec));
    const r = await minisign(['-V', '-H', '-p', pubFile, '-m', m, '-Q']);
    expect(r).toMatchObject({ code: 0, out: `${manifestTrustedComment(manifest)}\n` });
  });

  it('signs with our unencrypted secret key file, and recreates its public key (-R)', async () => {
    const { pub, sec } = generateMinisignKeyPair();
    const keyFile = file('ourkey.key', formatSecretKey(sec));
    const data = file('other.bin', Buffer.from('x'.repeat(1000)));
    const s = await minisign(['-S', '-s', keyFile, '-m', data, '-t', 'signed by minisign with our key']);
    expect(s.code, s.err).toBe(0);
    const sig = parseSignature(readFileSync(`${data}.minisig`, 'utf8'));
    expect(verifyMinisign(readFileSync(data), sig, pub)).toEqual({ ok: true, trustedComment: 'signed by minisign with our key' });
    const pubFile = join(dir, 'recreated.pub');
    expect((await minisign(['-R', '-s', keyFile, '-p', pubFile])).code).toBe(0);
    expect(parsePublicKey(readFileSync(pubFile, 'utf8'))).toEqual({ keyId: pub.keyId, publicKey: Buffer.from(pub.publicKey) });
  });
});

describeNeeding(['minisign'], existsSync(MINISIGN), 'we verify what minisign signs', () => {
  it('reads minisign -G -W keys: same key id as minisign prints, our signatures verify under its public key', async () => {
    const k = await minisignKey('mk');
    expect(k.pub.keyId).toBe(k.sec.keyId);
    // minisign 0.11 prints the id without leading zeros ("%" PRIX64); ours is zero-padded.
    const printed = readFileSync(k.pubFile, 'utf8').split('\n')[0]!.replace('untrusted comment: minisign public key ', '');
    expect(k.pub.keyId.replace(/^0+/, '')).toBe(printed);
    const data = file('mk-data.bin', Buffer.from('hello'));
    file('mk-data.bin.minisig', signMinisign(Buffer.from('hello'), k.sec, 'tc'));
    expect((await minisign(['-V', '-p', k.pubFile, '-m', data])).code).toBe(0);
  });

  it('a manifest signed by two minisign keys with -t passes verifyManifest (2 of 2)', async () => {
    const [k1, k2] = [await minisignKey('rel1'), await minisignKey('rel2')];
    const root: TrustRoot = {
      kind: FIRMWARE_ROOT_KIND,
      version: 1,
      threshold: 2,
      keys: [
        { name: 'rel1', publicKey: publicKeyLine(k1.pub) },
        { name: 'rel2', publicKey: publicKeyLine(k2.pub) },
      ],
      issued: T0,
    };
    const m = file('m2.json', mBytes);
    const tc = manifestTrustedComment(manifest);
    for (const [i, k] of [k1, k2].entries()) {
      const r = await minisign(['-S', '-s', k.keyFile, '-m', m, '-x', `${m}.${i + 1}.minisig`, '-t', tc]);
      expect(r.code, r.err).toBe(0);
    }
    const signatures = [1, 2].map((i) => readFileSync(`${m}.${i}.minisig`, 'utf8'));
    expect(signatures.map((s) => parseSignature(s).algorithm)).toEqual(['ED', 'ED']);
    expect(verifyManifest({ manifest: mBytes, signatures }, root, ctx)).toEqual({ ok: true, manifest, signers: ['rel1', 'rel2'] });
    expect(verifyManifest({ manifest: mBytes, signatures: signatures.slice(1) }, root, ctx)).toMatchObject({
      ok: false,
      code: 'below_threshold',
    });

    // minisign's default trusted comment ("timestamp:…\tfile:…") is not bound to the manifest.
    const d = await minisign(['-S', '-s', k1.keyFile, '-m', m, '-x', `${m}.default.minisig`]);
    expect(d.code).toBe(0);
    const unbound = readFileSync(`${m}.default.minisig`, 'utf8');
    expect(parseSignature(unbound).trustedComment).toMatch(/^timestamp:\d+\tfile:m2\.json\thashed$/);
    expect(verifyManifest({ manifest: mBytes, signatures: [unbound, signatures[1]!] }, root, ctx)).toMatchObject({
      ok: false,
      code: 'below_threshold',
      message: expect.stringContaining('was made for another document') as string,
    });

    // Legacy signatures (minisign -l): valid for minisign, refused here.
    for (const [i, k] of [k1, k2].entries()) {
      const r = await minisign(['-S', '-l', '-s', k.keyFile, '-m', m, '-x', `${m}.legacy${i}.minisig`, '-t', tc]);
      expect(r.code, r.err).toBe(0);
    }
    const legacy = [0, 1].map((i) => readFileSync(`${m}.legacy${i}.minisig`, 'utf8'));
    expect((await minisign(['-V', '-p', k1.pubFile, '-m', m, '-x', `${m}.legacy0.minisig`])).code).toBe(0);
    expect(parseSignature(legacy[0]!).algorithm).toBe('Ed');
    expect(verifyMinisign(mBytes, parseSignature(legacy[0]!), k1.pub)).toMatchObject({ ok: false, code: 'legacy_signature' });
    expect(verifyManifest({ manifest: mBytes, signatures: legacy }, root, ctx)).toMatchObject({ ok: false, code: 'legacy_signature' });
    // minisign itself refuses them when asked for prehashed signatures only.
    const h = await minisign(['-V', '-H', '-p', k1.pubFile, '-m', m, '-x', `${m}.legacy0.minisig`]);
    expect(h.code).toBe(1);
    expect(h.err).toContain('Legacy (non-prehashed) signature found');
  });

  it('a root rotation signed with minisign -S (-t "plant-console firmware-root v2") is accepted', async () => {
    const [k1, k2, k3] = [await minisignKey('r1'), await minisignKey('r2'), await minisignKey('r3')];
    const line = (name: string, k: { pub: { keyId: string; publicKey: Uint8Array } }) => ({ name, publicKey: publicKeyLine(k.pub) });
    const v1: TrustRoot = { kind: FIRMWARE_ROOT_KIND, version: 1, threshold: 1, keys: [line('r1', k1), line('r2', k2)], issued: T0 };
    const v2: TrustRoot = { ...v1, version: 2, keys: [line('r2', k2), line('r3', k3)], issued: T0 + DAY };
    const rootFile = file('root.json', rootBytes(v2));
    for (const k of [k1, k3]) {
      const r = await minisign([
        '-S',
        '-s',
        k.keyFile,
        '-m',
        rootFile,
        '-x',
        `${rootFile}.${k.pub.keyId}.minisig`,
        '-t',
        rootTrustedComment(2),
      ]);
      expect(r.code, r.err).toBe(0);
    }
    const sigs = [k1, k3].map((k) => readFileSync(`${rootFile}.${k.pub.keyId}.minisig`, 'utf8'));
    expect(verifyRootRotation(v1, { root: rootBytes(v2), signatures: sigs })).toEqual({ ok: true, root: v2 });
    // Our root signatures verify with minisign as well.
    file('root.json.ours.minisig', signRoot(rootBytes(v2), k2.sec));
    const v = await minisign(['-V', '-H', '-p', k2.pubFile, '-m', rootFile, '-x', join(dir, 'root.json.ours.minisig'), '-Q']);
    expect(v).toMatchObject({ code: 0, out: 'plant-console firmware-root v2\n' });
  });
});
