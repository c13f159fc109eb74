/**
 * MQTT topics of the uplink and the plant's signed state message (birth and last will).
 *
 *   pc/v1/<plant>/up/sealed/<machine>   sealed batches (binary envelope), QoS 1, not retained
 *   pc/v1/<plant>/up/plain/<machine>    plain batches (canonical JSON), QoS 1, not retained
 *   pc/v1/<plant>/up/keys               plant-keys announcements (JSON), QoS 1
 *   pc/v1/<plant>/up/reco               sealed reports on recommendations (docs/recommendations.md), QoS 1
 *   pc/v1/<plant>/up/health             sealed health and threat events of the IoT modules (docs/firmware.md), QoS 1
 *   pc/v1/<plant>/up/audit              sealed signed heads of the audit chain: the cloud's witness (docs/uplink.md §17), QoS 1
 *   pc/v1/<plant>/state                 signed state: retained birth "online", last will "offline"
 *   pc/v1/<plant>/down                  cloud → plant (cloud-key announcements, recommendations,
 *                                       later firmware), subscribed by the plant
 * <plant> and <machine> are pseudonym tokens: a broker ACL grants a plant `pc/v1/<plant>/up/#`
 * and `pc/v1/<plant>/state` to publish, `pc/v1/<plant>/down` to read, nothing else.
 */
import { z } from 'zod';
import { canonicalJson, parseJsonObject, signJson, verifySignedJson, type Signed } from './canonical';
import { isKeyId, type SigningKeyPair } from './keys';
import { schemaProblem } from './payload';
import { isPseudonym } from './pseudonym';
import { findKey, type KeyLookup, type PlantKeyRecord, type Refusal } from './refusal';

export const TOPIC_PREFIX = 'pc/v1';
export const STATE_LABEL = 'plant-console/state/v1';

export type TopicKind = 'sealed' | 'plain' | 'keys' | 'reco' | 'health' | 'audit' | 'state' | 'down';

/** The topics of one plant. */
export function plantTopics(plant: string): {
  sealed: (machine: string) => string;
  plain: (machine: string) => string;
  keys: string;
  /** Sealed reports on recommendations (decision, apply result, outcome, refusal). */
  reco: string;
  /** Sealed health and threat events of the plant's IoT modules (module-health.ts). */
  health: string;
  /** Sealed signed heads of the plant's audit chain (audit-head.ts). */
  audit: string;
  state: string;
  down: string;
  /** What the plant's ACL lets it publish to. */
  publishPrefix: string;
} {
  const base = `${TOPIC_PREFIX}/${plant}`;
  return {
    sealed: (machine) => `${base}/up/sealed/${machine}`,
    plain: (machine) => `${base}/up/plain/${machine}`,
    keys: `${base}/up/keys`,
    reco: `${base}/up/reco`,
    health: `${base}/up/health`,
    audit: `${base}/up/audit`,
    state: `${base}/state`,
    down: `${base}/down`,
    publishPrefix: `${base}/up/`,
  };
}

/** The filter a cloud receiver subscribes to: all plants' uplink, shared across a group of receivers. */
export function cloudSubscription(group?: string): string[] {
  const filters = [`${TOPIC_PREFIX}/+/up/#`, `${TOPIC_PREFIX}/+/state`];
  return group ? filters.map((f) => `$share/${group}/${f}`) : filters;
}

/** Splits a topic into its kind and pseudonyms; null for anything not of this protocol. */
export function parseTopic(topic: string): { kind: TopicKind; plant: string; machine?: string } | null {
  const parts = topic.split('/');
  if (parts[0] !== 'pc' || parts[1] !== 'v1' || !isPseudonym(parts[2])) return null;
  const plant = parts[2];
  const rest = parts.slice(3).join('/');
  if (rest === 'state') return { kind: 'state', plant };
  if (rest === 'down') return { kind: 'down', plant };
  if (rest === 'up/keys') return { kind: 'keys', plant };
  if (rest === 'up/reco') return { kind: 'reco', plant };
  if (rest === 'up/health') return { kind: 'health', plant };
  if (rest === 'up/audit') return { kind: 'audit', plant };
  const kind = parts[4];
  if (parts.length === 6 && parts[3] === 'up' && (kind === 'sealed' || kind === 'plain') && isPseudonym(parts[5])) {
    return { kind, plant, machine: parts[5] };
  }
  return null;
}

export const StateMessageSchema = z
  .object({
    v: z.literal(1),
    type: z.literal('state'),
    plant: z.string().refine(isPseudonym, 'must be a pseudonym token'),
    state: z.enum(['online', 'offline']),
    /** For "online": when this session connected; for the last will, the same instant (the broker sends it later). */
    session: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    kid: z.string().refine(isKeyId, 'must be a key id'),
    sig: z.string().regex(/^[0-9a-f]{128}$/),
  })
  .strict();
export type StateMessage = z.infer<typeof StateMessageSchema>;

/** The signed birth ("online") or last-will ("offline") message of a session, as wire text. */
export function buildStateMessage(p: { plant: string; state: 'online' | 'offline'; session: number; signer: SigningKeyPair }): {
  doc: Signed<StateMessage>;
  json: string;
} {
  const doc = signJson(
    STATE_LABEL,
    { v: 1 as const, type: 'state' as const, plant: p.plant, state: p.state, session: p.session },
    p.signer,
  );
  return { doc, json: canonicalJson(doc) };
}

/** Verifies a state message (no sequence: the newest `session` wins). */
export function openStateMessage(
  input: string | Uint8Array,
  opts: { plantPublicKeys: KeyLookup<PlantKeyRecord>; now: number; topicPlant?: string },
): { ok: true; state: StateMessage } | Refusal {
  const json = parseJsonObject(input, 4096);
  if (!json) return { ok: false, reason: 'malformed', detail: 'not a JSON object in UTF-8' };
  if (json.v !== 1)
    return { ok: false, reason: typeof json.v === 'number' ? 'unsupported_version' : 'malformed', detail: `version ${String(json.v)}` };
  const parsed = StateMessageSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: 'malformed', detail: schemaProblem(parsed.error) };
  const key = findKey(opts.plantPublicKeys, parsed.data.kid, opts.now);
  if (!key.ok) return { ok: false, reason: 'unknown_key_id', detail: `signing ${key.detail}` };
  if (!verifySignedJson(STATE_LABEL, json, key.key.publicKey))
    return { ok: false, reason: 'bad_signature', detail: 'the state message does not verify' };
  if (parsed.data.plant !== key.key.plant || (opts.topicPlant !== undefined && opts.topicPlant !== parsed.data.plant)) {
    return { ok: false, reason: 'wrong_plant', detail: `state of ${parsed.data.plant} signed by a key of ${key.key.plant}` };
  }
  return { ok: true, state: parsed.data };
}
