/** A plant, a cloud and a batch for uplink protocol tests (random keys, fresh per call). */
import {
  boxKeyPair,
  encodeHeader,
  headerHash,
  machinePseudonym,
  plantPseudonym,
  randomBytes,
  sealTo,
  signingKeyPair,
  uplinkSigningMessage,
  type CloudKeyRecord,
  type OpenSealedOptions,
  type PlantKeyRecord,
  type SealBatchInput,
  type SealedPayload,
  type SigningKeyPair,
} from '../../src-main/protocol';
import { sodium } from '../../src-main/protocol/sodium';

export const T0 = 1_767_225_600_000;

/** Keys, pseudonyms and receiver options of one plant and its cloud. */
export function makeUplinkWorld(plantId = 'plant-alpha') {
  const plantKey = signingKeyPair();
  const cloudKey = boxKeyPair();
  const pseudonymKey = randomBytes(32);
  const plant = plantPseudonym(pseudonymKey, plantId);
  const machine = machinePseudonym(pseudonymKey, 'im250-sn-1');
  const payload: SealedPayload = {
    v: 1,
    plant: { id: plantId },
    machine: { id: 'im250-sn-1', model: 'im250' },
    points: {
      zone1: {
        unit: '°C',
        samples: [
          [T0, 212.5],
          [T0 + 500, 213],
        ],
      },
      good: { unit: 'pcs', samples: [[T0 + 999, 17]] },
    },
  };
  const input = (over: Partial<SealBatchInput> = {}): SealBatchInput => ({
    plant,
    machine,
    seq: 7n,
    from: T0,
    to: T0 + 999,
    payload,
    signer: plantKey,
    cloudPublicKey: cloudKey.publicKey,
    ...over,
  });
  const plantKeys = new Map<string, PlantKeyRecord>([[plantKey.kid, { publicKey: plantKey.publicKey, plant, plantId }]]);
  const cloudKeys = new Map<string, CloudKeyRecord>([[cloudKey.kid, { publicKey: cloudKey.publicKey, secretKey: cloudKey.secretKey }]]);
  const options = (over: Partial<OpenSealedOptions> = {}): OpenSealedOptions => ({
    plantPublicKeys: plantKeys,
    cloudSecretKeys: cloudKeys,
    lastSequence: () => 6n,
    now: T0 + 2000,
    ...over,
  });
  return { plantId, plantKey, cloudKey, pseudonymKey, plant, machine, payload, input, plantKeys, cloudKeys, options };
}

/** Replaces an envelope's signature by a fresh one of `signer` (what a holder of the plant key can do). */
export function resign(envelope: Buffer, signer: SigningKeyPair): Buffer {
  const unsigned = envelope.subarray(0, envelope.length - 64);
  const sig = Buffer.alloc(64);
  sodium.crypto_sign_detached(sig, uplinkSigningMessage(unsigned), signer.secretKey);
  return Buffer.concat([unsigned, sig]);
}

/**
 * Builds an envelope by hand from arbitrary payload bytes (as a buggy plant could), following
 * docs/uplink.md. `keyBlockPlain` overrides what is sealed to the cloud.
 */
export function assembleEnvelope(p: {
  header: Omit<Parameters<typeof encodeHeader>[0], 'payloadLength'>;
  payloadBytes: Buffer;
  signer: SigningKeyPair;
  cloudPublicKey: Uint8Array;
  keyBlockPlain?: (batchKey: Buffer, header: Buffer) => Buffer;
}): Buffer {
  const header = encodeHeader({ ...p.header, payloadLength: p.payloadBytes.length });
  const batchKey = randomBytes(32);
  const nonce = randomBytes(24);
  const plain = p.keyBlockPlain ? p.keyBlockPlain(batchKey, header) : Buffer.concat([batchKey, headerHash(header)]);
  const keyBlock = sealTo(plain, p.cloudPublicKey);
  const ct = Buffer.alloc(p.payloadBytes.length + 16);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(ct, p.payloadBytes, header, null, nonce, batchKey);
  const unsigned = Buffer.concat([header, keyBlock, nonce, ct]);
  return resign(Buffer.concat([unsigned, Buffer.alloc(64)]), p.signer);
}
