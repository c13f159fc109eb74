/**
 * The pairing request: how a module introduces its Ed25519 identity to the console, once. It is
 * signed with the key it announces (proof that the sender holds that key); it proves nothing
 * more, so the console only records it as pending, with the key's fingerprint, until a
 * maintenance user compared that fingerprint with the module's (`device-agent identity`) and
 * approved it. Shared by the console (src-main/modules/channel.ts) and the module (device-agent),
 * like the heartbeat: plain Node, zod and libsodium only.
 *
 *   POST {console}/module/v1/pair    a signed PairingRequest → PairingAnswer
 *   doc = JCS + Ed25519 under "plant-console/module-pairing/v1" (src-main/protocol/canonical.ts)
 */
import { z } from 'zod';
import { exchangeJson, type ConsoleEndpoint } from '../../device-agent/console-client';
import { signJson, verifySignedJson, type Signed } from '../protocol/canonical';
import { fingerprint, keyId, PUBLIC_KEY_BYTES, type SigningKeyPair } from '../protocol/keys';
import { MODULE_ID } from './config';

export const PAIRING_LABEL = 'plant-console/module-pairing/v1';
export const PAIRING_KIND = 'plant-console/module-pairing/v1';
export const PAIRING_PATH = '/module/v1/pair';
/** A pairing request is a few hundred bytes. */
export const MAX_PAIRING_BYTES = 4 * 1024;

export const PairingRequestSchema = z
  .object({
    kind: z.literal(PAIRING_KIND),
    /** The id its heartbeats will carry. */
    module: z.string().regex(MODULE_ID),
    /** The hardware model (firmware is checked against it). */
    model: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
    /** The module's Ed25519 public key, base64 (32 bytes). */
    publicKey: z.string().regex(/^[A-Za-z0-9+/]{43}=$/),
    time: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .strict();
export type PairingRequestBody = z.infer<typeof PairingRequestSchema>;
export type PairingRequest = Signed<PairingRequestBody>;

/** What the console answers: where the pairing stands, and the fingerprint it shows people. */
export const PairingAnswerSchema = z.object({ state: z.enum(['pending', 'paired', 'rejected']), fingerprint: z.string() }).strict();
export type PairingAnswer = z.infer<typeof PairingAnswerSchema>;

/** The module's pairing request, signed with its identity. */
export function signPairingRequest(p: { module: string; model: string; time: number }, keys: SigningKeyPair): PairingRequest {
  const body: PairingRequestBody = PairingRequestSchema.parse({
    kind: PAIRING_KIND,
    module: p.module,
    model: p.model,
    publicKey: Buffer.from(keys.publicKey).toString('base64'),
    time: p.time,
  });
  return signJson(PAIRING_LABEL, body, keys);
}

export type PairingRefusal = 'malformed' | 'bad_signature' | 'clock_skew';

/**
 * The console's check of a pairing request: schema, the key id of the announced key, the
 * signature by that key, the clock. Never throws.
 */
export function verifyPairingRequest(
  doc: unknown,
  opts: { now: number; maxSkewMs: number },
):
  | { ok: true; request: PairingRequestBody; publicKey: Buffer; kid: string; fingerprint: string }
  | { ok: false; code: PairingRefusal; message: string } {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    return { ok: false, code: 'malformed', message: 'A pairing request is a JSON object.' };
  const { kid, sig, ...rest } = doc as Record<string, unknown>;
  const parsed = PairingRequestSchema.safeParse(rest);
  if (!parsed.success || typeof kid !== 'string' || typeof sig !== 'string') {
    const issue = parsed.success ? undefined : parsed.error.issues[0];
    const where = issue ? `at ${issue.path.join('.') || '(root)'}: ${issue.message}` : 'kid and sig must be strings';
    return { ok: false, code: 'malformed', message: `The pairing request is invalid ${where}.` };
  }
  const publicKey = Buffer.from(parsed.data.publicKey, 'base64');
  if (publicKey.byteLength !== PUBLIC_KEY_BYTES) return { ok: false, code: 'malformed', message: 'The announced key is not 32 bytes.' };
  const expected = keyId(publicKey, 'ed25519');
  if (kid !== expected)
    return { ok: false, code: 'bad_signature', message: `The request is signed by key ${kid}, not by the key it announces (${expected}).` };
  if (!verifySignedJson(PAIRING_LABEL, doc as Record<string, unknown>, publicKey))
    return {
      ok: false,
      code: 'bad_signature',
      message: `The pairing request of ${parsed.data.module} does not verify with the key it announces.`,
    };
  const skewMs = parsed.data.time - opts.now;
  if (Math.abs(skewMs) > opts.maxSkewMs)
    return {
      ok: false,
      code: 'clock_skew',
      message: `The clock of ${parsed.data.module} is ${Math.round(skewMs / 1000)} s off the console's.`,
    };
  return { ok: true, request: parsed.data, publicKey, kid, fingerprint: fingerprint(publicKey, 'ed25519') };
}

/**
 * The module's side: sends its pairing request to the console (at start, and again while its
 * heartbeats are answered `not_paired`); resolves with where the pairing stands. UNAVAILABLE
 * when the console does not answer 2xx (409: another key is paired or pending under this id).
 */
export async function requestPairing(
  endpoint: ConsoleEndpoint,
  p: { model: string; now: number },
  keys: SigningKeyPair,
  timeoutMs = 10_000,
): Promise<PairingAnswer> {
  const doc = signPairingRequest({ module: endpoint.moduleId, model: p.model, time: p.now }, keys);
  const raw = await exchangeJson(endpoint, PAIRING_PATH, { method: 'POST', body: doc, timeoutMs });
  return PairingAnswerSchema.parse(raw);
}
