/**
 * An independent implementation (Python + PyNaCl, written from docs/uplink.md) verifies and
 * decrypts what our code builds, given only the bytes, the cloud's X25519 secret key and the
 * plant's Ed25519 public key.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import {
  buildPlainBatch,
  canonicalJson,
  ENVELOPE_OVERHEAD,
  envelopeLayout,
  sealBatch,
  sealHealthEvent,
  type HealthEventBody,
} from '../../src-main/protocol';
import { T0, makeUplinkWorld, resign } from '../helpers/uplink-fixture';
import { describeNeeding } from '../helpers/needs-package';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, '../fixtures/uplink_verify.py');
const probe = spawnSync(PYTHON, ['-c', 'import nacl.bindings, nacl.public, nacl.signing'], { encoding: 'utf8' });
const hasNacl = probe.status === 0;

interface PyResult {
  ok: boolean;
  reason?: string;
  header?: Record<string, string | number>;
  payload?: string;
  body?: string;
}

function python(request: Record<string, string>): PyResult {
  // Keys go through stdin, never argv (visible to every user in `ps`).
  const r = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(request), encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`uplink_verify.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PyResult;
}

describeNeeding(['python3-nacl'], hasNacl, 'uplink interoperability with PyNaCl', () => {
  const w = makeUplinkWorld('Usine de Lyon — Hall 3');
  const payload = {
    ...w.payload,
    machine: { id: 'IM250-SN-004711', name: 'Presse 4 (hall 3)', model: 'im250' },
    points: {
      zone1: {
        unit: '°C',
        samples: [
          [T0, 212.5],
          [T0 + 100, 0.1 + 0.2],
          [T0 + 200, -0.000001],
          [T0 + 300, 1e21],
          [T0 + 400, 5e-324],
        ] as [number, number][],
      },
      serial: { unit: '', samples: [[T0 + 10, 'AB\u0001"\\\u2028😀']] as [number, string][] },
      door: {
        unit: '',
        samples: [
          [T0 + 20, true],
          [T0 + 30, null],
        ] as [number, boolean | null][],
      },
    },
  };
  const seal = () => sealBatch(w.input({ seq: 123456789012n, payload }));
  const keys = { cloudSecretKey: w.cloudKey.secretKey.toString('hex'), plantPublicKey: w.plantKey.publicKey.toString('hex') };

  it('verifies and decrypts a sealed batch built by our code', () => {
    const r = python({ kind: 'sealed', envelope: seal().toString('hex'), ...keys });
    expect(r.ok).toBe(true);
    expect(r.payload).toBe(canonicalJson(payload));
    expect(JSON.parse(r.payload!)).toEqual(payload);
    expect(r.header).toEqual({
      version: 1,
      plant: w.plant,
      machine: w.machine,
      signingKid: w.plantKey.kid,
      encryptionKid: w.cloudKey.kid,
      seq: '123456789012',
      from: T0,
      to: T0 + 999,
      payloadLength: Buffer.byteLength(canonicalJson(payload)),
    });
  });

  it('refuses tampering with the same reasons as ours', () => {
    const env = seal();
    const at = envelopeLayout(env.length - ENVELOPE_OVERHEAD);
    const flip = (b: Buffer, i: number) => {
      const c = Buffer.from(b);
      c[i]! ^= 1;
      return c;
    };
    const edited = Buffer.from(env);
    edited.writeBigUInt64BE(1n, 40);
    const cases: [string, Buffer][] = [
      ['bad signature', flip(env, 47)],
      ['bad signature', flip(env, at.ciphertext + 2)],
      ['header tampered', resign(edited, w.plantKey)],
      ['ciphertext tampered', resign(flip(env, at.ciphertext + 2), w.plantKey)],
      ['ciphertext tampered', resign(flip(env, at.keyBlock + 40), w.plantKey)],
      ['unsupported version', Buffer.concat([env.subarray(0, 3), Buffer.from([2]), env.subarray(4)])],
      ['malformed', env.subarray(0, env.length - 1)],
    ];
    for (const [reason, bytes] of cases)
      expect([reason, python({ kind: 'sealed', envelope: bytes.toString('hex'), ...keys }).reason]).toEqual([reason, reason]);
    const stranger = makeUplinkWorld();
    expect(
      python({ kind: 'sealed', envelope: env.toString('hex'), ...keys, plantPublicKey: stranger.plantKey.publicKey.toString('hex') })
        .reason,
    ).toBe('unknown key id');
  });

  it('verifies a plain batch by re-canonicalising it (RFC 8785) and refuses an edited one', () => {
    const built = buildPlainBatch({
      plant: w.plant,
      machine: w.machine,
      seq: 8n,
      from: T0,
      to: T0 + 999,
      points: payload.points,
      signer: w.plantKey,
    });
    const r = python({ kind: 'plain', json: JSON.stringify(JSON.parse(built.json), null, 2), plantPublicKey: keys.plantPublicKey });
    expect(r.ok).toBe(true);
    const { sig: _sig, ...unsigned } = built.doc;
    expect(r.payload).toBe(canonicalJson(unsigned));
    const edited = built.json.replace('"seq":8', '"seq":9');
    expect(python({ kind: 'plain', json: edited, plantPublicKey: keys.plantPublicKey }).reason).toBe('bad signature');
  });

  it('opens a module health event built by our code and refuses a tampered or duplicated one alike', () => {
    const body: HealthEventBody = {
      v: 1,
      plant: w.plant,
      machine: w.machine,
      module: 'press-4.mod',
      seq: 77,
      kind: 'foreign-modbus-client',
      at: T0 + 5,
      active: true,
      message: 'Modbus client 10.0.0.9:50212 connected besides the console — “Presse 4”',
    };
    const text = Buffer.from(sealHealthEvent(body, { plant: w.plantKey, cloudBox: w.cloudKey })).toString('utf8');
    const req = { kind: 'module-health', ...keys, plant: w.plant };
    const r = python({ ...req, json: JSON.stringify(JSON.parse(text), null, 2) });
    expect(r).toEqual({ ok: true, body: canonicalJson(body) });
    const doc = JSON.parse(text) as Record<string, string>;
    const edited = canonicalJson({ ...doc, ct: doc.ct!.startsWith('A') ? `B${doc.ct!.slice(1)}` : `A${doc.ct!.slice(1)}` });
    expect(python({ ...req, json: edited }).reason).toBe('bad_signature');
    expect(python({ ...req, json: text, plant: makeUplinkWorld().plant }).reason).toBe('wrong_plant');
    // "v" twice (the last one the signed 1): malformed, as our reader says too (uplink.md §8).
    expect(python({ ...req, json: text.replace('{', '{"v":2,') }).reason).toBe('malformed');
  });

  it('opens the documented test vector', () => {
    const v = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/uplink-vectors.json'), 'utf8')) as {
      inputs: { cloudBoxSeed: string };
      keys: { plantSigning: { publicKey: string } };
      sealed: { envelope: string; payloadJson: string };
      plain: { json: string };
      moduleHealth: { wire: string; bodyJson: string };
      pseudonyms: { plant: string };
    };
    // PyNaCl derives the X25519 secret from the documented seed itself (crypto_box_seed_keypair).
    const seedKey = spawnSync(
      PYTHON,
      ['-c', 'import sys,nacl.public;print(nacl.public.PrivateKey.from_seed(bytes.fromhex(sys.stdin.read().strip())).encode().hex())'],
      {
        input: v.inputs.cloudBoxSeed,
        encoding: 'utf8',
      },
    ).stdout.trim();
    const r = python({
      kind: 'sealed',
      envelope: v.sealed.envelope,
      cloudSecretKey: seedKey,
      plantPublicKey: v.keys.plantSigning.publicKey,
    });
    expect(r.ok).toBe(true);
    expect(r.payload).toBe(v.sealed.payloadJson);
    expect(python({ kind: 'plain', json: v.plain.json, plantPublicKey: v.keys.plantSigning.publicKey }).ok).toBe(true);
    const health = python({
      kind: 'module-health',
      json: v.moduleHealth.wire,
      cloudSecretKey: seedKey,
      plantPublicKey: v.keys.plantSigning.publicKey,
      plant: v.pseudonyms.plant,
    });
    expect(health).toEqual({ ok: true, body: v.moduleHealth.bodyJson });
  });
});
