/**
 * Sending one recommendation, shared by `supplier-cloud recommend` and the rule's proposer:
 * sealed to the plant's X25519 key (the one it announced, else the registry's), signed by the
 * supplier key, published on the plant's downlink (QoS 1, not retained), then recorded.
 */
import { ConsoleError } from '../src-main/core/errors';
import { plantTopics, randomBytes, sealRecommendation, toHex, type RecommendationBody, type SigningKeyPair } from '../src-main/protocol';
import type { RegisteredPlant } from './config';
import type { CloudStore } from './store';

/** A fresh recommendation id: prefix, UTC time, 6 random hex characters (1–64 of [A-Za-z0-9._-]). */
export function newRecommendationId(prefix: string, now: number): string {
  const t = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${prefix}-${t}-${toHex(randomBytes(3))}`.slice(0, 64);
}

/** The plant's X25519 key to seal to: announced (in the store) wins over the registry's. */
export function plantBoxKey(store: CloudStore, plant: RegisteredPlant): { kid: string; publicKey: Buffer } {
  const box = store.reco.announcedBox(plant.pseudonym) ?? plant.box;
  if (!box) {
    throw new ConsoleError(
      'CONFIG_INVALID',
      `No X25519 key is registered for plant ${plant.id}: add its "keysShow" (plant-console keys show --json) or "boxKey" to the configuration`,
    );
  }
  return box;
}

/** What was sent. */
export interface SentInfo {
  topic: string;
  text: string;
  boxKid: string;
  signerKid: string;
}

/** Seals, publishes and records one recommendation; the store refuses an id sent before. */
export async function sendRecommendation(p: {
  store: CloudStore;
  plant: RegisteredPlant;
  body: RecommendationBody;
  signer: SigningKeyPair;
  publish: (topic: string, text: string) => Promise<void>;
  origin: 'cli' | 'rule';
  now: number;
}): Promise<SentInfo> {
  if (p.store.reco.sent({ plant: p.plant.pseudonym }).some((s) => s.id === p.body.id))
    throw new ConsoleError(
      'BAD_REQUEST',
      `A recommendation with id ${p.body.id} was already sent to plant ${p.plant.id}: the plant would refuse it as replayed`,
    );
  const box = plantBoxKey(p.store, p.plant);
  const text = sealRecommendation(p.body, { supplier: p.signer, plantBox: box });
  const topic = plantTopics(p.plant.pseudonym).down;
  await p.publish(topic, text);
  p.store.reco.recordSent({ plant: p.plant.pseudonym, body: p.body, origin: p.origin, sentAt: p.now });
  return { topic, text, boxKid: box.kid, signerKid: p.signer.kid };
}
