import { describe, expect, it } from 'vitest';
import {
  ENVELOPE_OVERHEAD,
  REFUSAL_REASONS,
  boxKeyPair,
  canonicalBytes,
  decodeHeader,
  envelopeLayout,
  openSealed,
  randomBytes,
  refusalError,
  sealBatch,
  sealTo,
  signingKeyPair,
  type OpenSealedResult,
} from '../../src-main/protocol';
import { ConsoleError } from '../../src-main/core/errors';
import { T0, assembleEnvelope, makeUplinkWorld, resign } from '../helpers/uplink-fixture';

function reasonOf(r: OpenSealedResult): string {
  return r.ok ? 'accepted' : r.reason;
}

function flip(b: Buffer, offset: number): Buffer {
  const c = Buffer.from(b);
  c[offset]! ^= 0x01;
  return c;
}

describe('sealed batch: round trip', () => {
  it('seals and opens to the same payload and header', () => {
    const w = makeUplinkWorld();
    const env = sealBatch(w.input());
    const L = canonicalBytes(w.payload).length;
    expect(env.length).toBe(ENVELOPE_OVERHEAD + L);
    const r = openSealed(env, w.options());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.payload).toEqual(w.payload);
    expect(r.header).toEqual({
      version: 1,
      plant: w.plant,
      machine: w.machine,
      signingKid: w.plantKey.kid,
      encryptionKid: w.cloudKey.kid,
      seq: 7n,
      from: T0,
      to: T0 + 999,
      payloadLength: L,
    });
  });

  it('uses a fresh batch key and nonce each time: two seals of one batch differ, both open', () => {
    const w = makeUplinkWorld();
    const a = sealBatch(w.input());
    const b = sealBatch(w.input());
    const at = envelopeLayout(a.length - ENVELOPE_OVERHEAD);
    expect(a.subarray(0, 68).equals(b.subarray(0, 68))).toBe(true);
    expect(a.subarray(at.keyBlock, at.signature).equals(b.subarray(at.keyBlock, at.signature))).toBe(false);
    expect(openSealed(a, w.options()).ok).toBe(true);
    expect(openSealed(b, w.options()).ok).toBe(true);
  });

  it('zeroes the batch key it used (an injected one too)', () => {
    const w = makeUplinkWorld();
    const batchKey = randomBytes(32);
    const env = sealBatch(w.input({ fixed: { batchKey, nonce: randomBytes(24) } }));
    expect(batchKey.equals(Buffer.alloc(32))).toBe(true);
    expect(openSealed(env, w.options()).ok).toBe(true);
  });

  it('carries an empty batch and a u64 sequence', () => {
    const w = makeUplinkWorld();
    const big = (1n << 64n) - 1n;
    const env = sealBatch(w.input({ seq: big, payload: { ...w.payload, points: {} } }));
    const r = openSealed(env, w.options({ lastSequence: () => big - 1n }));
    expect(r.ok && r.header.seq).toBe(big);
  });

  it('refuses to build what the format cannot carry', () => {
    const w = makeUplinkWorld();
    const bad = [
      w.input({ from: T0 + 1 }), // a sample before `from`
      w.input({ plant: 'ACME' }),
      w.input({ seq: -1n }),
      w.input({ cloudPublicKey: Buffer.alloc(31) }),
      w.input({ payload: { ...w.payload, points: { 'bad id!': { unit: '', samples: [] } } } }),
    ];
    for (const input of bad) expect(() => sealBatch(input)).toThrow(ConsoleError);
  });
});

describe('sealed batch: refusals and their order', () => {
  const w = makeUplinkWorld();
  const env = sealBatch(w.input());
  const at = envelopeLayout(env.length - ENVELOPE_OVERHEAD);

  it('malformed: not an envelope, truncated, extended, inconsistent length or time range', () => {
    const withLength = Buffer.from(env);
    withLength.writeUInt32BE(withLength.readUInt32BE(64) + 1, 64);
    const reversed = Buffer.from(env);
    reversed.writeBigUInt64BE(BigInt(T0 + 5000), 48);
    for (const b of [
      Buffer.alloc(0),
      Buffer.from('PC'),
      Buffer.from('{"v":1}'),
      env.subarray(0, 200),
      env.subarray(0, env.length - 1),
      Buffer.concat([env, Buffer.alloc(1)]),
      withLength,
      reversed,
    ]) {
      expect(reasonOf(openSealed(b, w.options()))).toBe('malformed');
    }
  });

  it('unsupported version: any version byte but 1, checked before the layout', () => {
    const v2 = Buffer.from(env);
    v2[3] = 2;
    expect(reasonOf(openSealed(v2, w.options()))).toBe('unsupported_version');
    expect(reasonOf(openSealed(Buffer.from([0x50, 0x43, 0x55, 0x00]), w.options()))).toBe('unsupported_version');
  });

  it('unknown key id: signing or encryption key not known, or past its grace', () => {
    const other = makeUplinkWorld();
    const r1 = openSealed(env, w.options({ plantPublicKeys: other.plantKeys }));
    expect(reasonOf(r1)).toBe('unknown_key_id');
    expect(!r1.ok && r1.detail).toMatch(/^signing/);
    const r2 = openSealed(env, w.options({ cloudSecretKeys: other.cloudKeys }));
    expect(reasonOf(r2)).toBe('unknown_key_id');
    expect(!r2.ok && r2.detail).toMatch(/^encryption/);
    const retired = new Map([[w.plantKey.kid, { ...w.plantKeys.get(w.plantKey.kid)!, notAfter: T0 }]]);
    expect(reasonOf(openSealed(env, w.options({ plantPublicKeys: retired })))).toBe('unknown_key_id');
    const retiredCloud = new Map([[w.cloudKey.kid, { ...w.cloudKeys.get(w.cloudKey.kid)!, notAfter: T0 }]]);
    expect(reasonOf(openSealed(env, w.options({ cloudSecretKeys: retiredCloud })))).toBe('unknown_key_id');
    // A key id edited into another known id is caught by the signature instead.
    const kidEdited = Buffer.from(env);
    kidEdited.write(other.plantKey.kid, 24, 'hex');
    const both = new Map([...w.plantKeys, ...other.plantKeys]);
    expect(reasonOf(openSealed(kidEdited, w.options({ plantPublicKeys: both })))).toBe('bad_signature');
  });

  it('bad signature: any flipped bit in header, key block, nonce, ciphertext or signature', () => {
    const offsets = {
      plant: 5,
      machine: 15,
      seq: 47,
      from: 55,
      to: 63,
      keyBlock: at.keyBlock + 40,
      nonce: at.nonce + 3,
      ciphertext: at.ciphertext + 10,
      tag: at.signature - 1,
      signature: at.signature + 5,
    };
    for (const [part, offset] of Object.entries(offsets)) {
      expect([part, reasonOf(openSealed(flip(env, offset), w.options()))]).toEqual([part, 'bad_signature']);
    }
    // Signed by someone else under the plant's key id.
    expect(reasonOf(openSealed(resign(env, signingKeyPair()), w.options()))).toBe('bad_signature');
  });

  it('header tampered: a holder of the plant key re-signs an edited header over genuine ciphertext', () => {
    const edited = Buffer.from(env);
    edited.writeBigUInt64BE(99n, 40); // replay genuine data under a new sequence number
    const r = openSealed(resign(edited, w.plantKey), w.options());
    expect(reasonOf(r)).toBe('header_tampered');
  });

  it('ciphertext tampered: re-signed ciphertext, nonce or key block that do not decrypt', () => {
    for (const offset of [at.ciphertext + 3, at.signature - 1, at.nonce + 1, at.keyBlock + 50]) {
      expect(reasonOf(openSealed(resign(flip(env, offset), w.plantKey), w.options()))).toBe('ciphertext_tampered');
    }
    // A key block sealed to another cloud key under this cloud's key id.
    const foreign = Buffer.from(env);
    sealTo(Buffer.alloc(64), boxKeyPair().publicKey).copy(foreign, at.keyBlock);
    const r = openSealed(resign(foreign, w.plantKey), w.options());
    expect(reasonOf(r)).toBe('ciphertext_tampered');
    expect(!r.ok && r.detail).toMatch(/batch key/);
  });

  it('ciphertext tampered: a buggy plant signs garbage in place of the ciphertext', () => {
    const garbage = Buffer.concat([env.subarray(0, at.ciphertext), randomBytes(at.signature - at.ciphertext), Buffer.alloc(64)]);
    const r = openSealed(resign(garbage, w.plantKey), w.options());
    expect(reasonOf(r)).toBe('ciphertext_tampered');
    expect(!r.ok && r.detail).toMatch(/AEAD/);
  });

  it('malformed: a signed, decryptable payload that is not a valid batch', () => {
    const header = {
      plant: w.plant,
      machine: w.machine,
      signingKid: w.plantKey.kid,
      encryptionKid: w.cloudKey.kid,
      seq: 7n,
      from: T0,
      to: T0 + 999,
    };
    const outside = { ...w.payload, points: { zone1: { unit: '°C', samples: [[T0 + 5000, 1]] } } };
    for (const payloadBytes of [
      Buffer.from('not json'),
      Buffer.from('[1,2]'),
      Buffer.from('{"v":1}'),
      Buffer.from([0xff, 0xfe]),
      canonicalBytes(outside),
    ]) {
      const b = assembleEnvelope({ header, payloadBytes, signer: w.plantKey, cloudPublicKey: w.cloudKey.publicKey });
      expect(reasonOf(openSealed(b, w.options()))).toBe('malformed');
    }
  });

  it('wrong plant: header, payload or topic name another plant than the key is registered for', () => {
    const other = makeUplinkWorld('plant-beta');
    const claims = sealBatch(w.input({ plant: other.plant }));
    expect(reasonOf(openSealed(claims, w.options()))).toBe('wrong_plant');
    const header = {
      plant: w.plant,
      machine: w.machine,
      signingKid: w.plantKey.kid,
      encryptionKid: w.cloudKey.kid,
      seq: 7n,
      from: T0,
      to: T0 + 999,
    };
    const payloadBytes = canonicalBytes({ ...w.payload, plant: { id: 'plant-beta' } });
    const inner = assembleEnvelope({ header, payloadBytes, signer: w.plantKey, cloudPublicKey: w.cloudKey.publicKey });
    expect(reasonOf(openSealed(inner, w.options()))).toBe('wrong_plant');
    expect(reasonOf(openSealed(env, w.options({ topic: { plant: other.plant, machine: w.machine } })))).toBe('wrong_plant');
    expect(reasonOf(openSealed(env, w.options({ topic: { plant: w.plant, machine: other.machine } })))).toBe('wrong_plant');
    expect(openSealed(env, w.options({ topic: { plant: w.plant, machine: w.machine } })).ok).toBe(true);
  });

  it('duplicate sequence and replay of an old sequence', () => {
    expect(reasonOf(openSealed(env, w.options({ lastSequence: () => 7n })))).toBe('duplicate_sequence');
    expect(reasonOf(openSealed(env, w.options({ lastSequence: () => 8n })))).toBe('replay');
    expect(openSealed(env, w.options({ lastSequence: () => null })).ok).toBe(true);
    // A store that tracks every sequence accepts a late batch below the highest one.
    const seen = new Set([5n, 6n, 8n]);
    const classify = (_p: string, s: bigint) => (seen.has(s) ? ('duplicate' as const) : s < 3n ? ('replay' as const) : ('new' as const));
    expect(openSealed(env, w.options({ lastSequence: () => 8n, classifySequence: classify })).ok).toBe(true);
  });

  it('reports the first failing check when several fail', () => {
    const other = makeUplinkWorld();
    // unknown key id before bad signature
    expect(reasonOf(openSealed(flip(env, at.signature + 1), w.options({ plantPublicKeys: other.plantKeys })))).toBe('unknown_key_id');
    // bad signature before wrong plant and replay
    const claims = sealBatch(w.input({ plant: other.plant }));
    expect(reasonOf(openSealed(flip(claims, 47), w.options({ lastSequence: () => 100n })))).toBe('bad_signature');
    // wrong plant before duplicate
    expect(reasonOf(openSealed(claims, w.options({ lastSequence: () => 7n })))).toBe('wrong_plant');
    // version before unknown key
    const v9 = Buffer.from(env);
    v9[3] = 9;
    expect(reasonOf(openSealed(v9, w.options({ plantPublicKeys: other.plantKeys })))).toBe('unsupported_version');
  });

  it('never throws, whatever the bytes; every refusal has a documented reason', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 500; i++) {
      const b = Buffer.from(env);
      for (let k = 0; k <= rnd(4); k++) b[rnd(b.length)] = rnd(256);
      const cut = rnd(3) === 0 ? b.subarray(0, rnd(b.length)) : b;
      const r = openSealed(cut, w.options());
      if (!r.ok) expect(REFUSAL_REASONS).toContain(r.reason);
    }
    for (let i = 0; i < 200; i++) {
      const r = openSealed(randomBytes(rnd(600)), w.options());
      expect(r.ok).toBe(false);
    }
  });

  it('a refusal carries the unverified header for logs and converts to UPLINK_REFUSED', () => {
    const r = openSealed(flip(env, at.ciphertext), w.options());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.header?.seq).toBe(7n);
    const err = refusalError(r);
    expect(err.code).toBe('UPLINK_REFUSED');
    expect(err.message).toContain('bad signature');
    expect(decodeHeader(env).ok).toBe(true);
  });
});
