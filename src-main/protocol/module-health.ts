/**
 * Health and threat events of the plant's IoT modules for the supplier cloud, on
 * `pc/v1/<plant>/up/health` (docs/uplink.md §16, docs/firmware.md §12.7). The same sealed,
 * signed JSON as the recommendation reports (recommendation-box.ts): sealed
 * to the cloud's X25519 key, signed by the plant's Ed25519 key, sent as the UTF-8 bytes of its
 * canonical JSON. The module id travels only inside the sealed body; the machine as its
 * pseudonym. Pure; `open` never throws on input.
 */
import { z } from 'zod';
import { ModuleEventKindSchema, type ModuleEventKind } from '../../src-preload/contract';
import type { FixedRandomness } from './envelope';
import type { SigningKeyPair } from './keys';
import { isPseudonym } from './pseudonym';
import {
  openPlantReport,
  PLANT_REPORT_HEADER,
  sealPlantReport,
  type PlantReportKeys,
  type PlantReportKind,
  type PlantReportOpenResult,
} from './plant-report';

/** A module id, as the console's `modules` config allows it (src-main/modules/config.ts uses this). */
export const MODULE_ID = /^[A-Za-z0-9._-]{1,64}$/;

export const HEALTH_EVENT_LABEL = 'plant-console/module-health/v1';
export const HEALTH_EVENT_LIMITS = { bodyBytes: 8 * 1024, documentBytes: 16 * 1024, text: 1000 } as const;

/** One event: raised (`active`) or ended, of one module. */
export interface HealthEventBody {
  v: 1;
  plant: string;
  /** Pseudonym of the machine the module sits on; "" when it is assigned to none. */
  machine: string;
  module: string;
  /** The plant's uplink sequence number this event travels with (docs/uplink.md §7), like a report's. */
  seq: number;
  kind: ModuleEventKind;
  at: number;
  active: boolean;
  message: string;
}

export const HealthEventBodySchema: z.ZodType<HealthEventBody> = z
  .object({
    v: z.literal(1),
    plant: z.string().refine(isPseudonym, 'must be a pseudonym token'),
    machine: z.string().refine((m) => m === '' || isPseudonym(m), 'must be a pseudonym token or ""'),
    module: z.string().regex(MODULE_ID),
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    kind: ModuleEventKindSchema,
    at: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    active: z.boolean(),
    message: z.string().max(HEALTH_EVENT_LIMITS.text),
  })
  .strict();

/** The clear members of a health event document: its header. */
export const HEALTH_EVENT_HEADER = PLANT_REPORT_HEADER;

const HEALTH_EVENT_KIND: PlantReportKind<HealthEventBody> = {
  type: 'module-health',
  label: HEALTH_EVENT_LABEL,
  noun: 'event',
  bodySchema: HealthEventBodySchema,
  limits: HEALTH_EVENT_LIMITS,
};

/**
 * Seals and signs one event (its message cut to the limit): the bytes published on
 * `pc/v1/<plant>/up/health`. `fixed` is for test vectors only.
 */
export function sealHealthEvent(
  body: HealthEventBody,
  keys: { plant: SigningKeyPair; cloudBox: { kid: string; publicKey: Uint8Array } },
  fixed?: FixedRandomness,
): Uint8Array {
  const cut = body.message.length > HEALTH_EVENT_LIMITS.text ? `${body.message.slice(0, HEALTH_EVENT_LIMITS.text - 1)}…` : body.message;
  return sealPlantReport(HEALTH_EVENT_KIND, { ...body, message: cut }, keys, fixed);
}

export type HealthEventOpenResult = PlantReportOpenResult<HealthEventBody>;

/** The cloud's checks, in the order of the recommendation reports' (docs/recommendations.md §7). */
export function openHealthEvent(bytes: Uint8Array, ctx: PlantReportKeys): HealthEventOpenResult {
  return openPlantReport(HEALTH_EVENT_KIND, bytes, ctx);
}
