/**
 * Firmware over the downlink: a `firmware` message on `pc/v1/<plant>/down` carries a release
 * bundle, base64, which the console judges exactly as one imported from a file (releases.ts):
 * the bundle's own k-of-n signatures are what make it trusted, not the channel it came on, so a
 * forged or replayed message can at most be refused (and is, with its reason, in the refused
 * list and the audit log). docs/firmware.md "Distribution" describes the message.
 *
 *   { "v": 1, "type": "firmware", "id": "<sender's reference>", "bundle": "<base64 of the .pcfw>" }
 */
import { z } from 'zod';
import type { DownlinkHandler } from '../uplink/downlink';
import { ImportRefused } from './library';

/** Largest bundle a downlink message may carry (the message is base64 of it, plus a few bytes). */
export const FIRMWARE_DOWNLINK_MAX_BUNDLE_BYTES = 8 * 1024 * 1024;

export const FirmwareMessageSchema = z
  .object({
    v: z.literal(1),
    type: z.literal('firmware'),
    id: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1–64 of A–Z a–z 0–9 . _ : -'),
    bundle: z
      .string()
      .min(4)
      .max(Math.ceil(FIRMWARE_DOWNLINK_MAX_BUNDLE_BYTES / 3) * 4)
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'),
  })
  .strict();

/** The downlink handler of `firmware` messages over an importer (ModuleManager.importBytes). */
export function firmwareDownlinkHandler(importer: {
  importBytes(bytes: Uint8Array, from: { source: 'downlink'; ref: string }): { id: string; version: string };
}): DownlinkHandler {
  return (doc) => {
    const parsed = FirmwareMessageSchema.safeParse(doc);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        verdict: 'refused',
        detail: `firmware message invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      };
    }
    try {
      const r = importer.importBytes(Buffer.from(parsed.data.bundle, 'base64'), { source: 'downlink', ref: parsed.data.id });
      return { verdict: 'accepted', detail: `firmware ${r.version} imported as ${r.id}` };
    } catch (err) {
      const refused = err instanceof ImportRefused ? err : err instanceof Error && err.cause instanceof ImportRefused ? err.cause : null;
      if (!refused) throw err;
      return { verdict: refused.refusal === 'duplicate' ? 'duplicate' : 'refused', detail: `${refused.refusal}: ${refused.message}` };
    }
  };
}
