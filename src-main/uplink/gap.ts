/**
 * Gap notices: the plant tells the cloud, signed, what its outbox dropped or could not record
 * when its disk budget was full (docs/uplink.md §14). A notice travels through the outbox like a
 * batch, on `pc/v1/<plant>/up/gap`, and takes the next sequence number, so a receiver that
 * counts notices sees no gap of its own making.
 *
 *   { "v": 1, "type": "gap", "plant": "<pseudonym>", "seq": n, "issued": ms,
 *     "dropped":     { "batches": n, "seqs": [[first, last], …] },
 *     "notRecorded": { "sealed": n, "plain": n, "from"?: ms, "to"?: ms },
 *     "totals":      { "dropped": n, "notRecorded": n },
 *     "kid": "<plant Ed25519 key id>", "sig": "<128 hex>" }      signed with label plant-console/gap/v1
 */
import { z } from 'zod';
import {
  canonicalJson,
  findKey,
  isKeyId,
  isPseudonym,
  parseJsonObject,
  schemaProblem,
  signJson,
  verifySignedJson,
  type KeyLookup,
  type PlantKeyRecord,
  type Refusal,
  type SigningKeyPair,
} from '../protocol';

export const GAP_LABEL = 'plant-console/gap/v1';
/** Sequence ranges per notice: a longer list is split over several notices. */
export const MAX_GAP_RANGES = 1000;

const n = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const GapNoticeSchema = z
  .object({
    v: z.literal(1),
    type: z.literal('gap'),
    plant: z.string().refine(isPseudonym, 'must be a pseudonym token'),
    seq: n,
    issued: n,
    dropped: z.object({ batches: n, seqs: z.array(z.tuple([n, n])).max(MAX_GAP_RANGES) }).strict(),
    notRecorded: z.object({ sealed: n, plain: n, from: n.optional(), to: n.optional() }).strict(),
    totals: z.object({ dropped: n, notRecorded: n }).strict(),
    kid: z.string().refine(isKeyId, 'must be a key id'),
    sig: z.string().regex(/^[0-9a-f]{128}$/),
  })
  .strict();
export type GapNotice = z.infer<typeof GapNoticeSchema>;

/** What a notice reports, before it is numbered and signed. */
export interface GapReport {
  dropped: { batches: number; seqs: [number, number][] };
  notRecorded: { sealed: number; plain: number; from?: number; to?: number };
  totals: { dropped: number; notRecorded: number };
}

/** The wire text of a signed gap notice (canonical JSON). */
export function buildGapNotice(p: { plant: string; seq: number; issued: number; report: GapReport; signer: SigningKeyPair }): string {
  const nr = p.report.notRecorded;
  const doc = {
    v: 1 as const,
    type: 'gap' as const,
    plant: p.plant,
    seq: p.seq,
    issued: p.issued,
    dropped: { batches: p.report.dropped.batches, seqs: p.report.dropped.seqs },
    notRecorded: {
      sealed: nr.sealed,
      plain: nr.plain,
      ...(nr.from !== undefined ? { from: nr.from } : {}),
      ...(nr.to !== undefined ? { to: nr.to } : {}),
    },
    totals: p.report.totals,
  };
  return canonicalJson(signJson(GAP_LABEL, doc, p.signer));
}

/** Checks a received gap notice: malformed → unsupported version → malformed → unknown key id → bad signature → wrong plant. */
export function openGapNotice(
  input: string | Uint8Array,
  opts: { plantPublicKeys: KeyLookup<PlantKeyRecord>; now: number; topicPlant?: string },
): { ok: true; notice: GapNotice } | Refusal {
  const json = parseJsonObject(input, 256 * 1024);
  if (!json) return { ok: false, reason: 'malformed', detail: 'not a JSON object in UTF-8' };
  if (json.v !== 1)
    return { ok: false, reason: typeof json.v === 'number' ? 'unsupported_version' : 'malformed', detail: `version ${String(json.v)}` };
  const parsed = GapNoticeSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: 'malformed', detail: schemaProblem(parsed.error) };
  const key = findKey(opts.plantPublicKeys, parsed.data.kid, opts.now);
  if (!key.ok) return { ok: false, reason: 'unknown_key_id', detail: `signing ${key.detail}` };
  if (!verifySignedJson(GAP_LABEL, json, key.key.publicKey))
    return { ok: false, reason: 'bad_signature', detail: 'the gap notice does not verify' };
  if (parsed.data.plant !== key.key.plant || (opts.topicPlant !== undefined && opts.topicPlant !== parsed.data.plant)) {
    return { ok: false, reason: 'wrong_plant', detail: `gap notice of ${parsed.data.plant} signed by a key of ${key.key.plant}` };
  }
  return { ok: true, notice: parsed.data };
}

/** Adds sequence numbers (ascending) to a list of inclusive ranges, merging neighbours. */
export function addToRanges(ranges: [number, number][], seqs: readonly number[]): [number, number][] {
  const out = ranges.map((r) => [r[0], r[1]] as [number, number]);
  for (const s of seqs) {
    const last = out[out.length - 1];
    if (last && s === last[1] + 1) last[1] = s;
    else if (last && s >= last[0] && s <= last[1]) continue;
    else out.push([s, s]);
  }
  return out;
}
