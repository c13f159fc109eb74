/**
 * verifyManifest and the image check: every refusal of docs/firmware.md §7 (signatures,
 * threshold, trusted-comment binding, expiry, model, size, rollback of version and counter,
 * images too long or of another manifest), and the order in which the checks run.
 */
import { describe, expect, it } from 'vitest';
import { ConsoleError } from '../../src-main/core/errors';
import {
  FIRMWARE_MANIFEST_KIND,
  FIRMWARE_REFUSALS,
  FIRMWARE_REFUSAL_TEXT,
  FIRMWARE_ROOT_KIND,
  compareVersions,
  createImageVerifier,
  generateMinisignKeyPair,
  manifestBytes,
  manifestTrustedComment,
  parseManifest,
  publicKeyLine,
  rootBytes,
  rootTrustedComment,
  signManifest,
  signMinisign,
  signRoot,
  verifyManifest,
  type FirmwareManifest,
  type ManifestContext,
  type MinisignSecretKey,
  type TrustRoot,
} from '../../src-main/firmware';
import { blake2b, canonicalBytes } from '../../src-main/protocol';

const T0 = 1_767_225_600_000;
const DAY = 86_400_000;
const IMAGE = Buffer.from('{"sim":"hp200","version":"1.2.0","cycleScale":1.0}\n'.repeat(40));
const [A, B, C, D] = [0, 1, 2, 3].map(() => generateMinisignKeyPair());
const root: TrustRoot = {
  kind: FIRMWARE_ROOT_KIND,
  version: 1,
  threshold: 2,
  keys: [
    { name: 'a', publicKey: publicKeyLine(A!.pub) },
    { name: 'b', publicKey: publicKeyLine(B!.pub) },
    { name: 'c', publicKey: publicKeyLine(C!.pub) },
  ],
  issued: T0 - DAY,
};
const ctx: ManifestContext = { now: T0 + DAY, model: 'hp200', installed: { version: '1.1.5', securityCounter: 3 } };

function manifest(over: Partial<FirmwareManifest> = {}, image: Uint8Array = IMAGE): FirmwareManifest {
  return {
    kind: FIRMWARE_MANIFEST_KIND,
    formatVersion: 1,
    models: ['hp200', 'hp200-b'],
    version: '1.2.0',
    securityCounter: 3,
    image: { size: image.byteLength, blake2b512: blake2b(image, 64).toString('hex') },
    created: T0,
    expires: T0 + 90 * DAY,
    notes: 'Faster cycle; fixes the guard timeout.',
    ...over,
  };
}

function release(m: FirmwareManifest, ...keys: MinisignSecretKey[]): { manifest: Buffer; signatures: string[] } {
  const bytes = manifestBytes(m);
  return { manifest: bytes, signatures: keys.map((k) => signManifest(bytes, k)) };
}

const good = release(manifest(), A!.sec, B!.sec);

describe('verifyManifest accepts', () => {
  it('a manifest signed by k of n root keys, naming the keys that counted', () => {
    const r = verifyManifest(good, root, ctx);
    expect(r).toEqual({ ok: true, manifest: manifest(), signers: ['a', 'b'] });
    expect(verifyManifest(release(manifest(), C!.sec, A!.sec, B!.sec), root, ctx)).toMatchObject({ ok: true, signers: ['a', 'b', 'c'] });
    expect(verifyManifest(good, root, { ...ctx, installed: null })).toMatchObject({ ok: true });
  });

  it('the same version again (re-install), and the same image when the installed hash is known', () => {
    const installed = { version: '1.2.0', securityCounter: 3, blake2b512: manifest().image.blake2b512 };
    expect(verifyManifest(good, root, { ...ctx, installed })).toMatchObject({ ok: true });
  });

  it('signatures with CRLF line ends (a file edited on Windows)', () => {
    const r = verifyManifest({ ...good, signatures: good.signatures.map((s) => s.replace(/\n/g, '\r\n')) }, root, ctx);
    expect(r.ok).toBe(true);
  });
});

describe('verifyManifest refuses', () => {
  it('bad signature: the manifest altered after signing', () => {
    const altered = manifestBytes({ ...manifest(), notes: 'Something else' });
    const r = verifyManifest({ manifest: altered, signatures: good.signatures }, root, ctx);
    expect(r).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(r.ok || r.message).toMatch(/No valid signature.*signature 1 \(a\).*does not verify/);
  });

  it('unknown key: signed only by keys outside the root', () => {
    expect(verifyManifest(release(manifest(), D!.sec), { ...root, threshold: 1 }, ctx)).toMatchObject({
      ok: false,
      code: 'unknown_key',
      message: expect.stringContaining(`key ${D!.pub.keyId} is not a key of this root`) as string,
    });
  });

  it('k−1 signatures, also when a foreign key or the same key again makes up the number', () => {
    expect(verifyManifest(release(manifest(), A!.sec), root, ctx)).toMatchObject({
      ok: false,
      code: 'below_threshold',
      message: expect.stringContaining('signed by 1 of the 2 keys it needs (a)') as string,
    });
    expect(verifyManifest(release(manifest(), A!.sec, D!.sec), root, ctx)).toMatchObject({ ok: false, code: 'below_threshold' });
    const once = release(manifest(), A!.sec);
    expect(verifyManifest({ ...once, signatures: [once.signatures[0]!, once.signatures[0]!] }, root, ctx)).toMatchObject({
      ok: false,
      code: 'below_threshold',
    });
    // A second, different signature by the same key (other untrusted comment) still counts once.
    const twice = { ...once, signatures: [...once.signatures, signManifest(once.manifest, A!.sec, 'again')] };
    expect(verifyManifest(twice, root, ctx)).toMatchObject({ ok: false, code: 'below_threshold' });
    expect(verifyManifest({ ...once, signatures: [] }, root, ctx)).toMatchObject({ ok: false, code: 'below_threshold' });
  });

  it('legacy signature: an Ed (non-prehashed) signature by a root key', async () => {
    const { createRequire } = await import('node:module');
    const sodium = createRequire(import.meta.url)('sodium-native') as {
      crypto_sign_detached(s: Buffer, m: Uint8Array, k: Uint8Array): void;
    };
    const bytes = good.manifest;
    const tc = manifestTrustedComment(manifest());
    const legacy = (k: MinisignSecretKey) => {
      const sig = Buffer.alloc(64);
      sodium.crypto_sign_detached(sig, bytes, k.secretKey);
      const global = Buffer.alloc(64);
      sodium.crypto_sign_detached(global, Buffer.concat([sig, Buffer.from(tc)]), k.secretKey);
      const line = Buffer.concat([Buffer.from('Ed'), Buffer.from(k.keyId, 'hex').reverse(), sig]).toString('base64');
      return `untrusted comment: legacy\n${line}\ntrusted comment: ${tc}\n${global.toString('base64')}\n`;
    };
    expect(verifyManifest({ manifest: bytes, signatures: [legacy(A!.sec), legacy(B!.sec)] }, root, ctx)).toMatchObject({
      ok: false,
      code: 'legacy_signature',
    });
    // With one good signature it does not make up the second.
    expect(verifyManifest({ manifest: bytes, signatures: [good.signatures[0]!, legacy(B!.sec)] }, root, ctx)).toMatchObject({
      ok: false,
      code: 'below_threshold',
      message: expect.stringContaining('legacy') as string,
    });
  });

  it('a signature over a root replayed as a manifest signature, and one bound to another document', () => {
    const r2: TrustRoot = { ...root, version: 2 };
    const rootSig = [signRoot(rootBytes(r2), A!.sec), signRoot(rootBytes(r2), B!.sec)];
    expect(verifyManifest({ manifest: good.manifest, signatures: rootSig }, root, ctx)).toMatchObject({ ok: false, code: 'bad_signature' });
    // The manifest's very bytes signed with a root's trusted comment: the binding refuses it.
    const bound = [A!.sec, B!.sec].map((k) => signMinisign(good.manifest, k, rootTrustedComment(2)));
    expect(verifyManifest({ manifest: good.manifest, signatures: bound }, root, ctx)).toMatchObject({
      ok: false,
      code: 'bad_signature',
      message: expect.stringContaining('was made for another document: its trusted comment is "plant-console firmware-root v2"') as string,
    });
    // A comment naming another model or version (minisign -t by hand) is refused the same way.
    const otherModel = [A!.sec, B!.sec].map((k) =>
      signMinisign(good.manifest, k, manifestTrustedComment({ ...manifest(), models: ['im250'] })),
    );
    expect(verifyManifest({ manifest: good.manifest, signatures: otherModel }, root, ctx)).toMatchObject({
      ok: false,
      code: 'bad_signature',
    });
    // Signatures of another manifest (an older release) on this one.
    const older = release(manifest({ version: '1.1.9' }), A!.sec, B!.sec);
    expect(verifyManifest({ manifest: good.manifest, signatures: older.signatures }, root, ctx)).toMatchObject({
      ok: false,
      code: 'bad_signature',
    });
  });

  it('removed key: after a rotation a key that left the root no longer counts', () => {
    const v2: TrustRoot = {
      ...root,
      version: 2,
      keys: [root.keys[1]!, root.keys[2]!, { name: 'd', publicKey: publicKeyLine(D!.pub) }],
    };
    expect(verifyManifest(good, v2, ctx)).toMatchObject({
      ok: false,
      code: 'below_threshold',
      message: expect.stringContaining(`key ${A!.pub.keyId} is not a key of this root`) as string,
    });
    expect(verifyManifest(release(manifest(), B!.sec, D!.sec), v2, ctx)).toMatchObject({ ok: true, signers: ['b', 'd'] });
  });

  it('version rollback, also a reissued version with another image', () => {
    const installed = { version: '1.10.0', securityCounter: 3 };
    expect(verifyManifest(good, root, { ...ctx, installed })).toMatchObject({
      ok: false,
      code: 'version_rollback',
      message: 'Firmware 1.2.0 is older than the installed 1.10.0.',
    });
    const other = { version: '1.2.0', securityCounter: 3, blake2b512: 'ab'.repeat(64) };
    // Not "older than installed": what happened is a version that exists with two images.
    expect(verifyManifest(good, root, { ...ctx, installed: other })).toMatchObject({
      ok: false,
      code: 'version_reissued',
      message: 'Firmware 1.2.0 is installed already, with another image than this one.',
    });
    expect(FIRMWARE_REFUSAL_TEXT.version_reissued).not.toMatch(/older/);
  });

  it('counter rollback: a newer version with a lower security counter', () => {
    expect(verifyManifest(good, root, { ...ctx, installed: { version: '1.1.0', securityCounter: 4 } })).toMatchObject({
      ok: false,
      code: 'counter_rollback',
      message: expect.stringContaining('security counter 3, lower than the installed 4') as string,
    });
  });

  it('expired (freeze attack) and not yet valid', () => {
    const m = manifest();
    expect(verifyManifest(good, root, { ...ctx, now: m.expires })).toMatchObject({ ok: false, code: 'expired' });
    expect(verifyManifest(good, root, { ...ctx, now: m.expires - 1 })).toMatchObject({ ok: true });
    expect(verifyManifest(good, root, { ...ctx, now: T0 - 11 * 60_000 })).toMatchObject({ ok: false, code: 'not_yet_valid' });
    expect(verifyManifest(good, root, { ...ctx, now: T0 - 9 * 60_000 })).toMatchObject({ ok: true });
  });

  it('wrong model', () => {
    expect(verifyManifest(good, root, { ...ctx, model: 'im250' })).toMatchObject({
      ok: false,
      code: 'wrong_model',
      message: 'Firmware 1.2.0 is for hp200, hp200-b, not for model im250.',
    });
  });

  it('an image larger than the slot', () => {
    expect(verifyManifest(good, root, { ...ctx, maxImageBytes: IMAGE.length - 1 })).toMatchObject({ ok: false, code: 'image_too_large' });
  });

  it('wrong kind and malformed manifests', () => {
    const r2 = rootBytes({ ...root, version: 2 });
    expect(verifyManifest({ manifest: r2, signatures: good.signatures }, root, ctx)).toMatchObject({ ok: false, code: 'wrong_kind' });
    const pretty = Buffer.from(JSON.stringify(manifest(), null, 2));
    expect(verifyManifest({ manifest: pretty, signatures: [] }, root, ctx)).toMatchObject({
      ok: false,
      code: 'malformed',
      message: expect.stringContaining('not in canonical form') as string,
    });
    const withNewline = Buffer.concat([good.manifest, Buffer.from('\n')]);
    expect(verifyManifest({ manifest: withNewline, signatures: good.signatures }, root, ctx)).toMatchObject({ code: 'malformed' });
    const bad = (over: Record<string, unknown>) =>
      verifyManifest({ manifest: canonicalBytes({ ...manifest(), ...over }), signatures: [] }, root, ctx);
    expect(bad({ version: '1.02.0' })).toMatchObject({ code: 'malformed', message: expect.stringContaining('at version') as string });
    expect(bad({ models: ['hp200', 'hp200'] })).toMatchObject({ code: 'malformed' });
    expect(bad({ models: ['HP200,x'] })).toMatchObject({ code: 'malformed' });
    expect(bad({ expires: T0 })).toMatchObject({
      code: 'malformed',
      message: expect.stringContaining('expires must be after created') as string,
    });
    expect(bad({ extra: 1 })).toMatchObject({ code: 'malformed' });
    expect(bad({ formatVersion: 2 })).toMatchObject({ code: 'malformed' });
    expect(bad({ image: { size: 0, blake2b512: 'ab'.repeat(64) } })).toMatchObject({ code: 'malformed' });
    expect(verifyManifest({ manifest: Buffer.from([0xff, 0xfe]), signatures: [] }, root, ctx)).toMatchObject({ code: 'malformed' });
    expect(verifyManifest({ manifest: Buffer.alloc(70_000, 0x20), signatures: [] }, root, ctx)).toMatchObject({ code: 'malformed' });
    expect(() => parseManifest(pretty)).toThrow(ConsoleError);
  });

  it('checks signatures before anything the manifest says, then expiry, model, size, version, counter', () => {
    const late = { ...ctx, now: T0 + 100 * DAY, model: 'im250', installed: { version: '9.0.0', securityCounter: 9 } };
    expect(verifyManifest(release(manifest(), A!.sec), root, late)).toMatchObject({ code: 'below_threshold' });
    expect(verifyManifest(good, root, late)).toMatchObject({ code: 'expired' });
    expect(verifyManifest(good, root, { ...late, now: ctx.now })).toMatchObject({ code: 'wrong_model' });
    expect(verifyManifest(good, root, { ...late, now: ctx.now, model: 'hp200', maxImageBytes: 10 })).toMatchObject({
      code: 'image_too_large',
    });
    expect(verifyManifest(good, root, { ...late, now: ctx.now, model: 'hp200' })).toMatchObject({ code: 'version_rollback' });
  });
});

describe('the image check', () => {
  const m = manifest();

  it('accepts the image in any chunking', () => {
    const v = createImageVerifier(m);
    for (let i = 0; i < IMAGE.length; i += 100) v.update(IMAGE.subarray(i, i + 100));
    expect(v.received).toBe(IMAGE.length);
    expect(v.finish()).toEqual({ ok: true });
  });

  it('an image longer than the manifest says: refused at the first byte too many', () => {
    const v = createImageVerifier(m);
    v.update(IMAGE);
    let err: unknown;
    try {
      v.update(Buffer.from([0]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConsoleError);
    expect((err as ConsoleError).code).toBe('FIRMWARE_IMAGE_TOO_LARGE');
    expect(v.received).toBe(IMAGE.length);
    expect(() => v.update(Buffer.alloc(0))).toThrow(/longer than/);
    expect(v.finish()).toMatchObject({ ok: false, code: 'image_too_large' });
    const whole = createImageVerifier(m);
    expect(() => whole.update(Buffer.concat([IMAGE, Buffer.from('x')]))).toThrow(ConsoleError);
  });

  it('the image of another manifest (same size, other bytes), a truncated image, a flipped bit', () => {
    const other = Buffer.from(IMAGE);
    other.write('im250', 9);
    const v = createImageVerifier(m);
    v.update(other);
    expect(v.finish()).toMatchObject({ ok: false, code: 'image_mismatch', message: expect.stringContaining('BLAKE2b-512') as string });
    const short = createImageVerifier(m);
    short.update(IMAGE.subarray(1));
    expect(short.finish()).toMatchObject({
      ok: false,
      code: 'image_mismatch',
      message: `The image has ${IMAGE.length - 1} bytes; its manifest announces ${IMAGE.length}.`,
    });
    const flipped = Buffer.from(IMAGE);
    flipped[IMAGE.length - 1]! ^= 1;
    const f = createImageVerifier(m);
    f.update(flipped);
    expect(f.finish()).toMatchObject({ code: 'image_mismatch' });
    expect(() => f.finish()).toThrow(/finished already/);
  });
});

describe('versions and refusal texts', () => {
  it('compares versions numerically and refuses non-versions', () => {
    expect(compareVersions('1.10.0', '1.9.9')).toBe(1);
    expect(compareVersions('1.2.3', '1.2.3')).toBe(0);
    expect(compareVersions('0.0.9', '0.1.0')).toBe(-1);
    expect(compareVersions('2.0.0', '10.0.0')).toBe(-1);
    expect(() => compareVersions('1.2', '1.2.0')).toThrow(/not a firmware version/);
    expect(() => compareVersions('1.2.3-rc1', '1.2.0')).toThrow(ConsoleError);
  });

  it('every refusal code has plain words', () => {
    expect(new Set(FIRMWARE_REFUSALS).size).toBe(15);
    expect(Object.keys(FIRMWARE_REFUSAL_TEXT).sort()).toEqual([...FIRMWARE_REFUSALS].sort());
    for (const code of FIRMWARE_REFUSALS) expect(FIRMWARE_REFUSAL_TEXT[code]).toMatch(/^[A-Z].{10,}\.$/);
  });

  it('the trusted comment names the kind, models, version and counter', () => {
    expect(manifestTrustedComment(manifest())).toBe('plant-console firmware-manifest v1 model=hp200,hp200-b version=1.2.0 counter=3');
    expect(rootTrustedComment(7)).toBe('plant-console firmware-root v7');
  });
});
