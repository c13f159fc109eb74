/**
 * Generates the uplink test vectors (test/fixtures/uplink-vectors.json, shown in docs/uplink.md).
 * Every input is fixed, including the sealed box's ephemeral key, so every byte is reproducible.
 * Rewrite the fixture with:
 *   WRITE_UPLINK_VECTORS=1 npx vitest run --project unit test/unit/uplink-vectors.test.ts
 * The seeds here are public test values: never use them for a real plant or cloud.
 */
import { writeFileSync } from 'node:fs';
import { canonicalBytes, canonicalJson } from '../src-main/protocol/canonical';
import { toHex } from '../src-main/protocol/encoding';
import { headerHash, sealBatch, uplinkSigningMessage } from '../src-main/protocol/envelope';
import { HEADER_BYTES, KEY_BLOCK_BYTES, NONCE_BYTES, envelopeLayout } from '../src-main/protocol/header';
import { boxKeyPair, fingerprint, signingKeyPair } from '../src-main/protocol/keys';
import type { SealedPayload } from '../src-main/protocol/payload';
import { buildPlainBatch } from '../src-main/protocol/plain';
import { machinePseudonym, plantPseudonym } from '../src-main/protocol/pseudonym';
import { HEALTH_EVENT_HEADER, sealHealthEvent, type HealthEventBody } from '../src-main/protocol/module-health';
import { announceCloudKey, announcePlantKeys, announcementJson } from '../src-main/protocol/rotation';
import { boxParts } from './make-recommendation-vectors';

/** 32 (or n) bytes counting up from `start`: readable, obviously not secret. */
function counting(start: number, n = 32): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (start + i) & 0xff));
}

export const VECTOR_INPUTS = {
  plantSigningSeed: counting(0x00),
  cloudBoxSeed: counting(0x20),
  supplierSigningSeed: counting(0x40),
  pseudonymKey: counting(0x60),
  batchKey: counting(0x80),
  nonce: counting(0xa0, NONCE_BYTES),
  ephemeralSeed: counting(0xc0),
  nextCloudBoxSeed: counting(0xe0),
  nextPlantSigningSeed: Buffer.alloc(32, 0x11),
  healthContentKey: Buffer.alloc(32, 0x33),
  healthNonce: Buffer.alloc(NONCE_BYTES, 0x34),
  healthEphemeralSeed: Buffer.alloc(32, 0x35),
  plantId: 'acme-lyon-plant-7',
  machineId: 'IM250-SN-004711',
  seq: 42n,
  from: 1_767_225_600_000, // 2026-01-01T00:00:00Z
  to: 1_767_225_600_999,
};

/** The vectors as stored in the fixture (all bytes as lowercase hex). */
export function makeUplinkVectors(): Record<string, unknown> {
  const v = VECTOR_INPUTS;
  const plant = signingKeyPair(v.plantSigningSeed);
  const cloud = boxKeyPair(v.cloudBoxSeed);
  const supplier = signingKeyPair(v.supplierSigningSeed);
  const plantPs = plantPseudonym(v.pseudonymKey, v.plantId);
  const machinePs = machinePseudonym(v.pseudonymKey, v.machineId);
  const payload: SealedPayload = {
    v: 1,
    plant: { id: v.plantId },
    machine: { id: v.machineId, model: 'im250' },
    points: {
      zone1: {
        unit: '°C',
        samples: [
          [v.from, 212.5],
          [v.from + 500, 212.75],
        ],
      },
      good: { unit: 'pcs', samples: [[v.to, 1234]] },
    },
  };
  const envelope = sealBatch({
    plant: plantPs,
    machine: machinePs,
    seq: v.seq,
    from: v.from,
    to: v.to,
    payload,
    signer: plant,
    cloudPublicKey: cloud.publicKey,
    // Copies: sealBatch zeroes the batch key it used.
    fixed: { batchKey: Buffer.from(v.batchKey), nonce: Buffer.from(v.nonce), ephemeralSeed: Buffer.from(v.ephemeralSeed) },
  });
  const payloadBytes = canonicalBytes(payload);
  const at = envelopeLayout(payloadBytes.length);
  const header = envelope.subarray(0, HEADER_BYTES);

  const plain = buildPlainBatch({
    plant: plantPs,
    machine: machinePs,
    seq: v.seq + 1n,
    from: v.from,
    to: v.to,
    points: { state: { unit: '', samples: [[v.from, 1]] }, energy: { unit: 'kWh', samples: [[v.to, 15234.25]] } },
    signer: plant,
  });
  const { sig: _sig, ...plainUnsigned } = plain.doc;

  const nextCloud = boxKeyPair(v.nextCloudBoxSeed);
  const nextPlant = signingKeyPair(v.nextPlantSigningSeed);
  const cloudKeyDoc = announceCloudKey({
    cloudPublicKey: nextCloud.publicKey,
    issued: v.to + 1000,
    graceUntil: v.to + 7 * 86_400_000,
    supplier,
  });
  const plantKeysDoc = announcePlantKeys({
    plant: plantPs,
    issued: v.to + 2000,
    graceUntil: v.to + 86_400_000,
    oldSigner: plant,
    nextSigningPublicKey: nextPlant.publicKey,
  });

  // A module health event (§16) takes the plant's next sequence number after the two batches.
  const health: HealthEventBody = {
    v: 1,
    plant: plantPs,
    machine: machinePs,
    module: 'press-7-module',
    seq: Number(v.seq) + 2,
    kind: 'tamper',
    at: v.to + 3000,
    active: true,
    message: 'Enclosure opened',
  };
  const healthWire = Buffer.from(
    sealHealthEvent(
      health,
      { plant, cloudBox: cloud },
      { batchKey: Buffer.from(v.healthContentKey), nonce: Buffer.from(v.healthNonce), ephemeralSeed: Buffer.from(v.healthEphemeralSeed) },
    ),
  ).toString('utf8');

  const key = (pk: Buffer, kid: string, alg: 'ed25519' | 'x25519') => ({ publicKey: toHex(pk), kid, fingerprint: fingerprint(pk, alg) });
  return {
    about: 'Uplink protocol v1 test vectors (docs/uplink.md). Public test seeds: never use them for real keys.',
    inputs: {
      plantSigningSeed: toHex(v.plantSigningSeed),
      cloudBoxSeed: toHex(v.cloudBoxSeed),
      supplierSigningSeed: toHex(v.supplierSigningSeed),
      pseudonymKey: toHex(v.pseudonymKey),
      batchKey: toHex(v.batchKey),
      nonce: toHex(v.nonce),
      ephemeralSeed: toHex(v.ephemeralSeed),
      nextCloudBoxSeed: toHex(v.nextCloudBoxSeed),
      nextPlantSigningSeed: toHex(v.nextPlantSigningSeed),
      healthContentKey: toHex(v.healthContentKey),
      healthNonce: toHex(v.healthNonce),
      healthEphemeralSeed: toHex(v.healthEphemeralSeed),
      plantId: v.plantId,
      machineId: v.machineId,
      seq: v.seq.toString(),
      from: v.from,
      to: v.to,
    },
    keys: {
      plantSigning: key(plant.publicKey, plant.kid, 'ed25519'),
      cloudBox: key(cloud.publicKey, cloud.kid, 'x25519'),
      supplierSigning: key(supplier.publicKey, supplier.kid, 'ed25519'),
      nextCloudBox: key(nextCloud.publicKey, nextCloud.kid, 'x25519'),
      nextPlantSigning: key(nextPlant.publicKey, nextPlant.kid, 'ed25519'),
    },
    pseudonyms: { plant: plantPs, machine: machinePs },
    sealed: {
      payloadJson: payloadBytes.toString('utf8'),
      payload: toHex(payloadBytes),
      header: toHex(header),
      headerHash: toHex(headerHash(header)),
      keyBlockPlaintext: toHex(Buffer.concat([v.batchKey, headerHash(header)])),
      keyBlock: toHex(envelope.subarray(at.keyBlock, at.keyBlock + KEY_BLOCK_BYTES)),
      nonce: toHex(envelope.subarray(at.nonce, at.ciphertext)),
      ciphertext: toHex(envelope.subarray(at.ciphertext, at.signature)),
      signingMessage: toHex(uplinkSigningMessage(envelope.subarray(0, at.signature))),
      signature: toHex(envelope.subarray(at.signature)),
      envelope: toHex(envelope),
    },
    plain: { json: plain.json, signedJson: canonicalJson(plainUnsigned), sig: plain.doc.sig },
    cloudKeyAnnouncement: announcementJson(cloudKeyDoc),
    plantKeysAnnouncement: announcementJson(plantKeysDoc),
    moduleHealth: boxParts(healthWire, canonicalBytes(health).toString('utf8'), HEALTH_EVENT_HEADER, v.healthContentKey),
  };
}

/** Writes the vectors to a file as indented JSON. */
export function writeUplinkVectors(path: string): void {
  writeFileSync(path, JSON.stringify(makeUplinkVectors(), null, 2) + '\n');
}
