/** What leaves the plant: `local` points never do (checked on every serialized byte), sealed batches decrypt to the right samples. */
import { describe, expect, it } from 'vitest';
import type { MachineSnapshot, PointValue } from '../../src-preload/contract';
import { loadProfile, packageRoot, parseProfile } from '../../src-main/config/load';
import type { PointDef, Profile, ResolvedDevice } from '../../src-main/config/schema';
import {
  boxKeyPair,
  openPlain,
  openSealed,
  plantPseudonym,
  plantTopics,
  randomBytes,
  signingKeyPair,
  type CloudKeyRecord,
  type PlantKeyRecord,
} from '../../src-main/protocol';
import { Batcher, machinePlans, toOutboxItem, type PendingBatch } from '../../src-main/uplink/batcher';

const T0 = 1_767_225_600_000;
const PLANT_ID = 'acme-lyon-plant-7';
const pseudonymKey = randomBytes(32);
const plant = plantPseudonym(pseudonymKey, PLANT_ID);
const plantKey = signingKeyPair();
const cloud = boxKeyPair();
const plantKeys = new Map<string, PlantKeyRecord>([[plantKey.kid, { publicKey: plantKey.publicKey, plant, plantId: PLANT_ID }]]);
const cloudKeys = new Map<string, CloudKeyRecord>([[cloud.kid, { publicKey: cloud.publicKey, secretKey: cloud.secretKey }]]);

/** A profile with local points of every kind a secret can take: numbers, text, a bit. */
const secretProfile: Profile = parseProfile(
  {
    model: 'secretive',
    title: 'Secretive test machine',
    idealCycleTimeS: 10,
    points: [
      {
        id: 'state',
        name: 'State',
        function: 'holding',
        address: 0,
        type: 'uint16',
        role: 'state',
        states: { '1': 'running' },
        sensitivity: 'plain',
      },
      { id: 'temp', name: 'Temperature', function: 'holding', address: 1, type: 'int16', unit: '°C', sensitivity: 'sealed' },
      { id: 'recipe-code', name: 'Recipe code', function: 'holding', address: 2, type: 'uint32' },
      { id: 'customer-ref', name: 'Customer reference', function: 'holding', address: 4, type: 'string', length: 8, sensitivity: 'local' },
      { id: 'secret-bit', name: 'Secret bit', function: 'coil', address: 0, type: 'bool' },
    ],
  },
  '(test)',
);

function device(id: string, name: string, profile: Profile): ResolvedDevice {
  return {
    id,
    name,
    profile: `builtin:${profile.model}`,
    transport: { type: 'tcp', host: '127.0.0.1', port: 502 },
    unitId: 1,
    pollIntervalMs: 500,
    timeoutMs: 1000,
    retries: 1,
    backoff: { initialDelayMs: 500, maxDelayMs: 30_000, randomisationFactor: 0.2 },
    interFrameDelayMs: 0,
    demotion: { afterFailures: 3, intervalMs: 10_000 },
    writeFunction: 'single',
    profileDef: profile,
  };
}

const root = packageRoot();
const devices = [
  device('IM250-SN-004711-LINE-A', 'Moulding Line Alpha', loadProfile('builtin:im250', root)),
  device('HP200-SN-998877-LINE-B', 'Press Line Bravo', loadProfile('builtin:hp200', root)),
  device('PK60-SN-123456-LINE-C', 'Packing Line Charlie', loadProfile('builtin:pk60', root)),
  device('SECRETIVE-SN-424242', 'Secret Line Delta', secretProfile),
];

/** Distinctive local values, and distinctive values for everything else. */
const LOCAL_TEXT: Record<string, string> = {
  serial: 'IM250-SERIAL-77X1',
  recipe: 'RECIPE-PP-CAP-38MM',
  customer: 'Nordwerk Metall GmbH',
  batch: 'BATCH-2026-0042',
  'customer-ref': 'CUSTREF9',
};
const LOCAL_NUMBER = 31_415_926;

function valueFor(p: PointDef, i: number): PointValue['value'] {
  if (p.sensitivity === 'local') {
    if (p.type === 'string') return LOCAL_TEXT[p.id] ?? `LOCAL-${p.id}`;
    if (p.type === 'bool') return true;
    return LOCAL_NUMBER + i;
  }
  if (p.type === 'bool') return i % 2 === 0;
  if (p.type === 'string') return `text-${i}`;
  if (p.role === 'state') return 1;
  return 100 + i + (p.address % 7) / 8;
}

function snapshot(d: ResolvedDevice, i: number, quality: PointValue['quality'] = 'good'): MachineSnapshot {
  const ts = T0 + i * 250;
  const values: Record<string, PointValue> = {};
  for (const p of d.profileDef.points)
    values[p.id] = {
      value: valueFor(p, i),
      raw: [],
      quality,
      ts: quality === 'good' ? ts : T0,
      reason: quality === 'good' ? null : 'timeout',
    };
  return { id: d.id, name: d.name, model: d.profileDef.model, values, ts } as unknown as MachineSnapshot;
}

function build(pending: PendingBatch[], firstSeq: number): { topic: string; bytes: Buffer; batch: PendingBatch; seq: number }[] {
  const signer = { plant: { id: PLANT_ID, pseudonym: plant }, signer: () => plantKey, cloudPublicKey: () => cloud.publicKey };
  const topics = plantTopics(plant);
  return pending.map((b, i) => ({
    topic: b.kind === 'sealed' ? topics.sealed(b.machine.pseudonym) : topics.plain(b.machine.pseudonym),
    bytes: toOutboxItem(b, signer).build(firstSeq + i),
    batch: b,
    seq: firstSeq + i,
  }));
}

describe('batcher', () => {
  const plans = machinePlans(devices, pseudonymKey);

  it('lists only sealed and plain points in its plans', () => {
    for (const [i, d] of devices.entries()) {
      const plan = plans[i]!;
      expect(plan.sealed.map((p) => p.id)).toEqual(d.profileDef.points.filter((p) => p.sensitivity === 'sealed').map((p) => p.id));
      expect(plan.plain.map((p) => p.id)).toEqual(d.profileDef.points.filter((p) => p.sensitivity === 'plain').map((p) => p.id));
      expect(plan.pseudonym).toMatch(/^[a-z2-7]{16}$/);
    }
  });

  it('never lets a local value, point id, machine id or name, serial or plant id onto the wire', () => {
    const batcher = new Batcher(plans);
    const wire: Buffer[] = [];
    let seq = 1;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) for (const d of devices) batcher.ingest(snapshot(d, round * 4 + i));
      const out = build(batcher.flush(), seq);
      seq += out.length;
      for (const o of out) wire.push(Buffer.from(o.topic), o.bytes);
    }
    expect(seq).toBe(1 + 3 * devices.length * 2);
    const all = Buffer.concat(wire);
    const forbidden = [
      ...Object.values(LOCAL_TEXT),
      ...[0, 5, 11].map((i) => String(LOCAL_NUMBER + i)),
      ...devices.flatMap((d) => d.profileDef.points.filter((p) => p.sensitivity === 'local').flatMap((p) => [`"${p.id}"`, p.name])),
      ...devices.flatMap((d) => [d.id, d.name]),
      PLANT_ID,
    ];
    for (const f of forbidden) {
      expect(all.includes(Buffer.from(f, 'utf8')), `"${f}" leaked`).toBe(false);
      expect(all.includes(Buffer.from(f, 'utf16le')), `"${f}" leaked (UTF-16)`).toBe(false);
    }
  });

  it('seals the right samples, openable only with the cloud key, and signs plain batches with pseudonyms only', () => {
    const batcher = new Batcher(plans);
    const d = devices[0]!;
    for (let i = 0; i < 4; i++) batcher.ingest(snapshot(d, i));
    // A repeated snapshot (no new poll) adds nothing.
    batcher.ingest(snapshot(d, 3));
    const out = build(batcher.flush(), 41);
    expect(out.map((o) => o.batch.kind)).toEqual(['sealed', 'plain']);
    const sealed = out[0]!;
    let last: bigint | null = null;
    const opened = openSealed(sealed.bytes, {
      plantPublicKeys: plantKeys,
      cloudSecretKeys: cloudKeys,
      lastSequence: () => last,
      now: T0 + 5000,
      topic: { plant, machine: plans[0]!.pseudonym },
    });
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.header.seq).toBe(41n);
    expect(opened.header).toMatchObject({ from: T0, to: T0 + 750 });
    expect(opened.payload.plant).toEqual({ id: PLANT_ID });
    expect(opened.payload.machine).toEqual({ id: d.id, name: d.name, model: 'im250' });
    const sealedIds = d.profileDef.points.filter((p) => p.sensitivity === 'sealed').map((p) => p.id);
    expect(Object.keys(opened.payload.points).sort()).toEqual([...sealedIds].sort());
    const zone1 = d.profileDef.points.find((p) => p.id === 'zone1')!;
    expect(opened.payload.points.zone1).toEqual({ unit: '°C', samples: [0, 1, 2, 3].map((i) => [T0 + i * 250, valueFor(zone1, i)]) });
    // Another cloud key cannot open it.
    const other = boxKeyPair();
    const wrong = openSealed(sealed.bytes, {
      plantPublicKeys: plantKeys,
      cloudSecretKeys: new Map([[cloud.kid, { publicKey: other.publicKey, secretKey: other.secretKey }]]),
      lastSequence: () => null,
      now: T0 + 5000,
    });
    expect(wrong.ok).toBe(false);

    last = 41n;
    const plain = openPlain(out[1]!.bytes, {
      plantPublicKeys: plantKeys,
      lastSequence: () => last,
      now: T0 + 5000,
      topic: { plant, machine: plans[0]!.pseudonym },
    });
    expect(plain.ok).toBe(true);
    if (!plain.ok) return;
    expect(plain.batch).toMatchObject({ plant, machine: plans[0]!.pseudonym, seq: 42 });
    expect(Object.keys(plain.batch.points).sort()).toEqual(
      d.profileDef.points
        .filter((p) => p.sensitivity === 'plain')
        .map((p) => p.id)
        .sort(),
    );
  });

  it('sends one null per point when values turn bad, and nothing when there is nothing new', () => {
    const batcher = new Batcher(plans);
    const d = devices[3]!;
    batcher.ingest(snapshot(d, 0));
    batcher.ingest(snapshot(d, 1, 'stale'));
    batcher.ingest(snapshot(d, 2, 'stale'));
    const pending = batcher.flush();
    const temp = pending.find((b) => b.kind === 'sealed')!.points.temp!;
    expect(temp.samples).toEqual([
      [T0, valueFor(secretProfile.points[1]!, 0)],
      [T0 + 250, null],
    ]);
    expect(batcher.flush()).toEqual([]);
  });
});
