/**
 * Plain batches: `plain` points in a signed JSON document any SCADA tool can read without
 * verifying. Wire form = RFC 8785 canonical JSON of the whole document (sig included);
 * signature = Ed25519( "plant-console/plain/v1\0" ‖ UTF-8( JCS(document without sig) ) ).
 */
import { z } from 'zod';
import { ConsoleError } from '../core/errors';
import { canonicalJson, parseJsonObject, signJson, verifySignedJson } from './canonical';
import { isKeyId, type SigningKeyPair } from './keys';
import { PointsSchema, checkOutgoingPoints, sampleOutsideRange, schemaProblem, type Points } from './payload';
import { isPseudonym } from './pseudonym';
import { findKey, judgeSequence, sequenceRefusal, type KeyLookup, type PlantKeyRecord, type Refusal, type SequenceCheck } from './refusal';

export const PLAIN_SIGNATURE_LABEL = 'plant-console/plain/v1';
export const MAX_PLAIN_BYTES = 16 * 1024 * 1024;

const timeMs = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const pseudonym = z.string().refine(isPseudonym, 'must be a pseudonym token (16 base32 characters)');

export const PlainBatchSchema = z
  .object({
    v: z.literal(1),
    plant: pseudonym,
    machine: pseudonym,
    /** The plant's sequence (shared with sealed batches); JSON numbers carry it up to 2^53−1. */
    seq: timeMs,
    from: timeMs,
    to: timeMs,
    points: PointsSchema,
    kid: z.string().refine(isKeyId, 'must be a key id (16 hex characters)'),
    sig: z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 hex characters'),
  })
  .strict();
export type PlainBatch = z.infer<typeof PlainBatchSchema>;

/** What the plant publishes for a machine's `plain` points over one interval. */
export interface PlainBatchInput {
  plant: string;
  machine: string;
  seq: bigint;
  from: number;
  to: number;
  points: Points;
  signer: SigningKeyPair;
}

/** Builds and signs a plain batch; returns the document and its wire text (canonical JSON). */
export function buildPlainBatch(input: PlainBatchInput): { doc: PlainBatch; json: string } {
  if (!isPseudonym(input.plant) || !isPseudonym(input.machine))
    throw new ConsoleError('PROTOCOL_INVALID', 'Plant and machine must be pseudonym tokens.');
  if (input.seq < 0n || input.seq > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ConsoleError('PROTOCOL_INVALID', `A plain batch carries sequences up to 2^53−1, not ${input.seq}.`);
  checkOutgoingPoints(input.points, input.from, input.to);
  const doc = signJson(
    PLAIN_SIGNATURE_LABEL,
    {
      v: 1 as const,
      plant: input.plant,
      machine: input.machine,
      seq: Number(input.seq),
      from: input.from,
      to: input.to,
      points: input.points,
    },
    input.signer,
  );
  const json = canonicalJson(doc);
  if (Buffer.byteLength(json) > MAX_PLAIN_BYTES)
    throw new ConsoleError('PROTOCOL_INVALID', `A plain batch of ${json.length} bytes is too large: batch more often.`);
  return { doc, json };
}

/** Everything a receiver needs to check plain batches. */
export interface OpenPlainOptions extends SequenceCheck {
  plantPublicKeys: KeyLookup<PlantKeyRecord>;
  now: number;
  topic?: { plant: string; machine?: string };
}

export type OpenPlainResult = { ok: true; batch: PlainBatch; seq: bigint } | Refusal;

/**
 * Checks a received plain batch: malformed (not a JSON object) → unsupported version →
 * malformed (schema, samples outside the range) → unknown key id → bad signature →
 * wrong plant → duplicate / replay.
 */
export function openPlain(input: string | Uint8Array, opts: OpenPlainOptions): OpenPlainResult {
  const json = parseJsonObject(input, MAX_PLAIN_BYTES);
  if (!json) return { ok: false, reason: 'malformed', detail: 'not a JSON object in UTF-8' };
  if (json.v !== 1)
    return { ok: false, reason: typeof json.v === 'number' ? 'unsupported_version' : 'malformed', detail: `version ${String(json.v)}` };
  const parsed = PlainBatchSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: 'malformed', detail: schemaProblem(parsed.error) };
  const doc = parsed.data;
  if (doc.from > doc.to) return { ok: false, reason: 'malformed', detail: `time range [${doc.from}, ${doc.to}] is reversed` };
  const outside = sampleOutsideRange(doc.points, doc.from, doc.to);
  if (outside) return { ok: false, reason: 'malformed', detail: outside };

  const key = findKey(opts.plantPublicKeys, doc.kid, opts.now);
  if (!key.ok) return { ok: false, reason: 'unknown_key_id', detail: `signing ${key.detail}` };
  // Verify the document as received (parsed), not the schema's copy, so nothing is dropped.
  if (!verifySignedJson(PLAIN_SIGNATURE_LABEL, json, key.key.publicKey)) {
    return { ok: false, reason: 'bad_signature', detail: `the signature does not verify with plant key ${doc.kid}` };
  }
  if (doc.plant !== key.key.plant)
    return { ok: false, reason: 'wrong_plant', detail: `key ${doc.kid} signs for plant ${key.key.plant}, the batch names ${doc.plant}` };
  if (opts.topic && (opts.topic.plant !== doc.plant || (opts.topic.machine !== undefined && opts.topic.machine !== doc.machine))) {
    return {
      ok: false,
      reason: 'wrong_plant',
      detail: `published under ${opts.topic.plant}/${opts.topic.machine ?? '*'} but the batch names ${doc.plant}/${doc.machine}`,
    };
  }
  const seq = BigInt(doc.seq);
  const refusal = sequenceRefusal(judgeSequence(opts, doc.plant, seq), doc.plant, seq);
  return refusal ?? { ok: true, batch: doc, seq };
}
