/**
 * What the plant reports to the cloud besides its batches — reports on recommendations
 * (recommendation-report.ts) and its modules' health events (module-health.ts) — share one
 * construction: the sealed, signed JSON document of recommendation-box.ts, sealed to the cloud's
 * X25519 key and signed by the plant's Ed25519 key, sent as the UTF-8 of its canonical JSON, with
 * the header `type, v, plant, enc, kid`. This file holds that construction once: the document's
 * schema, sealing, and the cloud's checks in order (docs/recommendations.md §7). Pure; `open`
 * never throws on input.
 */
import { z } from 'zod';
import { ConsoleError } from '../core/errors';
import { canonicalBytes, parseJsonObject, verifySignedJson } from './canonical';
import type { FixedRandomness } from './envelope';
import { isKeyId, type SigningKeyPair } from './keys';
import { schemaProblem } from './payload';
import { isPseudonym } from './pseudonym';
import { BOX_KEY_BLOCK_BYTES, BOX_NONCE_BYTES, openBox, sealBox } from './recommendation-box';
import { wipe } from './sodium';

/** The clear members of a plant report: its header. */
export const PLANT_REPORT_HEADER = ['type', 'v', 'plant', 'enc', 'kid'] as const;

/** One kind of plant report: its document type, signature label, body schema and size limits. */
export interface PlantReportKind<B extends { plant: string }> {
  type: string;
  label: string;
  /** Words for messages: "report", "event". */
  noun: string;
  bodySchema: z.ZodType<B>;
  limits: { bodyBytes: number; documentBytes: number };
}

export type PlantReportOpenResult<B> =
  | { ok: true; body: B; kid: string }
  | { ok: false; code: 'malformed' | 'unknown_key' | 'bad_signature' | 'wrong_plant' | 'undecryptable'; message: string };

/** What the cloud needs to open a plant report. */
export interface PlantReportKeys {
  /** The plant's Ed25519 public key by key id (only keys of `plant`, still accepted), or null. */
  plantKeys: (kid: string) => Uint8Array | null;
  /** The cloud's X25519 key pair by key id (current and older ones within their grace), or null. */
  cloudBox: (kid: string) => { publicKey: Uint8Array; secretKey: Uint8Array } | null;
  /** The plant the report came from (the topic's pseudonym). */
  plant: string;
}

function docSchema(kind: PlantReportKind<{ plant: string }>) {
  return z
    .object({
      type: z.literal(kind.type),
      v: z.literal(1),
      plant: z.string().refine(isPseudonym, 'must be a pseudonym token'),
      enc: z.string().refine(isKeyId, 'must be a key id'),
      kid: z.string().refine(isKeyId, 'must be a key id'),
      key: z.string().length(Math.ceil(BOX_KEY_BLOCK_BYTES / 3) * 4),
      nonce: z.string().length(Math.ceil(BOX_NONCE_BYTES / 3) * 4),
      ct: z
        .string()
        .min(24)
        .max(Math.ceil((kind.limits.bodyBytes + 16) / 3) * 4),
      sig: z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 hex characters'),
    })
    .strict();
}

/** Seals `body` to the cloud and signs it with the plant key: the MQTT payload. `fixed` is for test vectors only. */
export function sealPlantReport<B extends { plant: string }>(
  kind: PlantReportKind<B>,
  body: B,
  keys: { plant: SigningKeyPair; cloudBox: { kid: string; publicKey: Uint8Array } },
  fixed?: FixedRandomness,
): Uint8Array {
  const parsed = kind.bodySchema.safeParse(body);
  if (!parsed.success)
    throw new ConsoleError('PROTOCOL_INVALID', `The ${kind.type} ${kind.noun} is invalid: ${schemaProblem(parsed.error)}.`);
  const doc = sealBox({
    label: kind.label,
    clear: { type: kind.type, v: 1 as const, plant: body.plant },
    body: parsed.data,
    recipientPublicKey: keys.cloudBox.publicKey,
    signer: keys.plant,
    maxBodyBytes: kind.limits.bodyBytes,
    ...(fixed ? { fixed } : {}),
  });
  if (doc.enc !== keys.cloudBox.kid)
    throw new ConsoleError('PROTOCOL_INVALID', `Key id ${keys.cloudBox.kid} is not the id of the cloud's X25519 key (${doc.enc}).`);
  return canonicalBytes(doc);
}

/**
 * The cloud's checks, in order: malformed (JSON, members) → unknown key (not a key of the plant
 * the topic names) → bad signature → wrong plant (clear) → undecryptable (cloud key, key block,
 * header hash, AEAD) → malformed (body) → wrong plant (body).
 */
export function openPlantReport<B extends { plant: string }>(
  kind: PlantReportKind<B>,
  bytes: Uint8Array,
  ctx: PlantReportKeys,
): PlantReportOpenResult<B> {
  const doc = parseJsonObject(bytes, kind.limits.documentBytes);
  if (!doc) return { ok: false, code: 'malformed', message: 'not a JSON object in UTF-8' };
  if (doc.type !== kind.type || doc.v !== 1)
    return { ok: false, code: 'malformed', message: `not a version 1 ${kind.type} (type ${String(doc.type)}, v ${String(doc.v)})` };
  const outer = docSchema(kind).safeParse(doc);
  if (!outer.success) return { ok: false, code: 'malformed', message: schemaProblem(outer.error) };
  const d = outer.data;
  const pk = ctx.plantKeys(d.kid);
  if (!pk) return { ok: false, code: 'unknown_key', message: `signing key ${d.kid} is not a key of plant ${ctx.plant}` };
  if (!verifySignedJson(kind.label, doc, pk))
    return { ok: false, code: 'bad_signature', message: `the signature does not verify with plant key ${d.kid}` };
  if (d.plant !== ctx.plant)
    return { ok: false, code: 'wrong_plant', message: `the ${kind.noun} names plant ${d.plant}, not ${ctx.plant}` };
  const box = ctx.cloudBox(d.enc);
  if (!box)
    return { ok: false, code: 'undecryptable', message: `it is sealed to X25519 key ${d.enc}, which the cloud does not hold (any more)` };
  const opened = openBox(doc, PLANT_REPORT_HEADER, box, kind.limits.bodyBytes);
  if (!opened.ok) return { ok: false, code: 'undecryptable', message: opened.message };
  let json: Record<string, unknown> | null;
  try {
    json = parseJsonObject(opened.plaintext, kind.limits.bodyBytes);
  } finally {
    wipe(opened.plaintext);
  }
  if (!json) return { ok: false, code: 'malformed', message: 'the body is not a JSON object in UTF-8' };
  const body = kind.bodySchema.safeParse(json);
  if (!body.success) return { ok: false, code: 'malformed', message: `body: ${schemaProblem(body.error)}` };
  if (body.data.plant !== ctx.plant)
    return { ok: false, code: 'wrong_plant', message: `the body names plant ${body.data.plant}, not ${ctx.plant}` };
  return { ok: true, body: body.data, kid: d.kid };
}
