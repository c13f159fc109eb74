/**
 * Delivery acknowledgements (docs/uplink.md §18): the cloud tells a plant, on the plant's
 * downlink `pc/v1/<plant>/down`, which of its sequence numbers it has dealt with for good
 * (stored now, or already held: a duplicate or a replay). The plant deletes those batches from
 * its outbox only then, and publishes no more than a window of batches ahead of what the cloud
 * acknowledged, so its drain follows what the cloud stores rather than what a broker queues.
 *
 *   { "v": 1, "type": "ack", "plant": "<plant pseudonym>", "seqs": [[first, last], …],
 *     "high": <highest sequence the cloud holds for the plant>, "issued": <ms> }
 *
 * Canonical JSON (RFC 8785), not signed: an ack can only make a plant forget batches, which
 * whoever may publish on the plant's downlink (the cloud's broker user, by the ACL) can already
 * achieve by consuming them from the shared subscription. It can neither change the plant nor
 * make it reuse a number.
 */
import { z } from 'zod';
import { canonicalJson, parseJsonObject } from './canonical';
import { schemaProblem } from './payload';
import { isPseudonym } from './pseudonym';

/** Ranges per acknowledgement: a receiver sends more in several messages. */
export const MAX_ACK_RANGES = 1000;

const seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

export const AckSchema = z
  .object({
    v: z.literal(1),
    type: z.literal('ack'),
    plant: z.string().refine(isPseudonym, 'must be a pseudonym token'),
    seqs: z
      .array(z.tuple([seq, seq]).refine(([a, b]) => a <= b, 'a range must not end before it starts'))
      .min(1)
      .max(MAX_ACK_RANGES),
    high: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    issued: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .strict();
export type Ack = z.infer<typeof AckSchema>;

/** The wire text of an acknowledgement (canonical JSON). */
export function buildAck(a: Omit<Ack, 'v' | 'type'>): string {
  return canonicalJson({ v: 1, type: 'ack', plant: a.plant, seqs: a.seqs, high: a.high, issued: a.issued });
}

/** Checks an acknowledgement (bytes or a parsed object) for `plant`; a refusal names what is wrong. */
export function parseAck(
  input: Uint8Array | string | Record<string, unknown>,
  plant: string,
): { ok: true; ack: Ack } | { ok: false; detail: string } {
  const json = typeof input === 'object' && !(input instanceof Uint8Array) ? input : parseJsonObject(input, 64 * 1024);
  if (!json) return { ok: false, detail: 'not a JSON object in UTF-8' };
  const parsed = AckSchema.safeParse(json);
  if (!parsed.success) return { ok: false, detail: schemaProblem(parsed.error) };
  if (parsed.data.plant !== plant)
    return { ok: false, detail: `an acknowledgement for plant ${parsed.data.plant} on this plant's downlink` };
  return { ok: true, ack: parsed.data };
}
