/**
 * The pinned root: strict parsing (1 ≤ k ≤ n, distinct keys) and rotation, accepted only with
 * k signatures of the current keys and k of the new root's own keys; removed keys stop counting.
 */
import { describe, expect, it } from 'vitest';
import { ConsoleError } from '../../src-main/core/errors';
import {
  FIRMWARE_MANIFEST_KIND,
  FIRMWARE_ROOT_KIND,
  generateMinisignKeyPair,
  manifestBytes,
  parseRoot,
  publicKeyLine,
  rootBytes,
  signManifest,
  signMinisign,
  signRoot,
  verifyRootRotation,
  type MinisignSecretKey,
  type TrustRoot,
} from '../../src-main/firmware';
import { canonicalBytes } from '../../src-main/protocol';

const T0 = 1_767_225_600_000;
const [A, B, C, D, E] = [0, 1, 2, 3, 4].map(() => generateMinisignKeyPair());
const key = (name: string, k: { pub: { keyId: string; publicKey: Uint8Array } }) => ({ name, publicKey: publicKeyLine(k.pub) });

const v1: TrustRoot = {
  kind: FIRMWARE_ROOT_KIND,
  version: 1,
  threshold: 2,
  keys: [key('a', A!), key('b', B!), key('c', C!)],
  issued: T0,
};
// v2 drops a (say, its holder left) and adds d.
const v2: TrustRoot = { ...v1, version: 2, keys: [key('b', B!), key('c', C!), key('d', D!)], issued: T0 + 1000 };

function rotation(next: TrustRoot, ...signers: MinisignSecretKey[]): { root: Buffer; signatures: string[] } {
  const bytes = rootBytes(next);
  return { root: bytes, signatures: signers.map((k) => signRoot(bytes, k)) };
}

function throwsInvalid(fn: () => unknown, message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConsoleError);
  expect((err as ConsoleError).code).toBe('FIRMWARE_INVALID');
  expect((err as ConsoleError).message).toMatch(message);
}

describe('parseRoot', () => {
  it('reads the canonical bytes back to the same root', () => {
    expect(parseRoot(rootBytes(v1))).toEqual(v1);
    expect(rootBytes(v1).toString()).toMatch(/^\{"issued":1767225600000,"keys":\[\{"name":"a","publicKey":"RW/);
  });

  it('refuses k > n, k < 1, duplicate keys, names or key ids, and bad key lines', () => {
    throwsInvalid(() => parseRoot(canonicalBytes({ ...v1, threshold: 4 })), /needs 4 signatures but lists only 3 keys/);
    throwsInvalid(() => parseRoot(canonicalBytes({ ...v1, threshold: 0 })), /at threshold/);
    throwsInvalid(() => parseRoot(canonicalBytes({ ...v1, keys: [...v1.keys, key('a2', A!)] })), /public key of a2 twice/);
    throwsInvalid(() => parseRoot(canonicalBytes({ ...v1, keys: [...v1.keys, key('a', D!)] })), /key name a twice/);
    const sameId = { keyId: A!.pub.keyId, publicKey: D!.pub.publicKey };
    throwsInvalid(() => parseRoot(canonicalBytes({ ...v1, keys: [...v1.keys, key('x', { pub: sameId })] })), /two keys with the key id/);
    throwsInvalid(() => parseRoot(canonicalBytes({ ...v1, threshold: 1, keys: [{ name: 'a', publicKey: 'RWQ=' }] })), /Root key a:/);
    throwsInvalid(() => parseRoot(canonicalBytes({ ...v1, keys: [] })), /at keys/);
    throwsInvalid(() => parseRoot(canonicalBytes({ ...v1, keys: [{ ...v1.keys[0]!, name: 'A B' }] })), /key name/);
  });

  it('refuses other kinds, extra members, non-canonical text', () => {
    throwsInvalid(
      () => parseRoot(canonicalBytes({ ...v1, kind: FIRMWARE_MANIFEST_KIND })),
      /names itself "plant-console\/firmware-manifest\/v1"/,
    );
    throwsInvalid(() => parseRoot(canonicalBytes({ ...v1, expires: 5 })), /invalid/);
    throwsInvalid(() => parseRoot(Buffer.from(JSON.stringify(v1, null, 1))), /canonical form/);
    throwsInvalid(() => parseRoot(Buffer.from('[]')), /not a JSON object/);
    throwsInvalid(() => parseRoot(Buffer.from('{"kind":')), /not UTF-8 JSON/);
  });
});

describe('verifyRootRotation', () => {
  it('accepts a newer root signed by k current keys and k of its own', () => {
    // a, b (old) and b, d (new): b counts for both sides.
    const r = verifyRootRotation(v1, rotation(v2, A!.sec, B!.sec, D!.sec));
    expect(r).toEqual({ ok: true, root: v2 });
  });

  it('refuses it with only k−1 current keys, even with every new key', () => {
    const r = verifyRootRotation(v1, rotation(v2, B!.sec, D!.sec));
    expect(r).toMatchObject({ ok: false, code: 'below_threshold', message: expect.stringContaining('by the keys of root v1') as string });
  });

  it('refuses it when fewer than k of its own keys signed (a typo in a new key would brick every module)', () => {
    const r = verifyRootRotation(v1, rotation(v2, A!.sec, C!.sec));
    expect(r).toMatchObject({ ok: false, code: 'below_threshold', message: expect.stringContaining('by its own keys') as string });
  });

  it('after the rotation a removed key no longer counts, for the next rotation either', () => {
    const v3: TrustRoot = { ...v2, version: 3, keys: [key('c', C!), key('d', D!), key('e', E!)] };
    expect(verifyRootRotation(v2, rotation(v3, A!.sec, C!.sec, E!.sec))).toMatchObject({ ok: false, code: 'below_threshold' });
    expect(verifyRootRotation(v2, rotation(v3, A!.sec, B!.sec))).toMatchObject({
      ok: false,
      code: 'below_threshold',
      message: expect.stringContaining(`key ${A!.pub.keyId} is not a key of this root`) as string,
    });
    expect(verifyRootRotation(v2, rotation(v3, C!.sec, D!.sec, E!.sec))).toMatchObject({ ok: true });
  });

  it('refuses an older or equal version (replay of a superseded root) as root_rollback', () => {
    const again = rotation({ ...v1, issued: T0 + 5 }, A!.sec, B!.sec);
    expect(verifyRootRotation(v1, again)).toMatchObject({ ok: false, code: 'root_rollback' });
    expect(verifyRootRotation(v2, rotation({ ...v2, version: 1 }, B!.sec, C!.sec))).toMatchObject({ ok: false, code: 'root_rollback' });
  });

  it('accepts a jump over versions only when k current keys signed it', () => {
    const v5: TrustRoot = { ...v2, version: 5 };
    expect(verifyRootRotation(v1, rotation(v5, B!.sec, C!.sec))).toMatchObject({ ok: true });
    expect(verifyRootRotation(v1, rotation(v5, C!.sec, D!.sec))).toMatchObject({ ok: false, code: 'below_threshold' });
  });

  it('refuses signatures bound to another document or version, manifests as roots, bad and legacy signatures', () => {
    const bytes = rootBytes(v2);
    const wrongVersion = [A!.sec, B!.sec, D!.sec].map((k) => signMinisign(bytes, k, 'plant-console firmware-root v3'));
    expect(verifyRootRotation(v1, { root: bytes, signatures: wrongVersion })).toMatchObject({ ok: false, code: 'bad_signature' });
    const m = manifestBytes({
      kind: FIRMWARE_MANIFEST_KIND,
      formatVersion: 1,
      models: ['hp200'],
      version: '1.0.0',
      securityCounter: 1,
      image: { size: 1, blake2b512: '00'.repeat(64) },
      created: T0,
      expires: T0 + 1,
      notes: '',
    });
    const manifestSigs = [A!.sec, B!.sec].map((k) => signManifest(m, k));
    expect(verifyRootRotation(v1, { root: bytes, signatures: manifestSigs })).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(verifyRootRotation(v1, { root: m, signatures: manifestSigs })).toMatchObject({ ok: false, code: 'wrong_kind' });
    const tampered = rotation(v2, A!.sec, B!.sec, D!.sec);
    const other = rootBytes({ ...v2, threshold: 1 });
    expect(verifyRootRotation(v1, { root: other, signatures: tampered.signatures })).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(verifyRootRotation(v1, { root: bytes, signatures: ['garbage'] })).toMatchObject({ ok: false, code: 'malformed' });
  });
});
