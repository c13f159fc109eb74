/**
 * The simulated module's firmware image: what the simulation runs. A real module's image is a
 * root file system; here it is a small JSON document whose parameters change how the simulated
 * machine behaves and which version it reports over Modbus (FC43/14), so an update visibly
 * changes the machine. `selfTest` lets a correctly signed but broken release be built on purpose:
 * `fail` fails the health check after boot, `crash` ends the process at boot, and both must end
 * in an automatic rollback.
 *
 * The image is parsed only after its signatures and hash were verified, but it is still outside
 * input (a supplier can ship a bad one): it is validated with zod and bounded in size.
 */
import { z } from 'zod';
import { ConsoleError } from '../src-main/core/errors';
import { NEUTRAL_TUNING, type SimTuning } from './simulator';

export const FIRMWARE_IMAGE_KIND = 'plant-console/simulated-firmware/v1';
/** A simulated image is a few hundred bytes; anything bigger is not one. */
export const MAX_IMAGE_JSON_BYTES = 64 * 1024;
/** The version a module runs before its first update: the image built into the agent at manufacture. */
export const FACTORY_VERSION = '1.0.0';

const factor = (min: number, max: number) => z.number().finite().min(min).max(max);

export const FirmwareImageSchema = z
  .object({
    kind: z.literal(FIRMWARE_IMAGE_KIND),
    model: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/),
    version: z.string().min(1).max(32),
    params: z
      .object({
        cycleTimeFactor: factor(0.5, 3).default(1),
        scrapFactor: factor(0, 20).default(1),
        controlGain: factor(0.1, 10).default(1),
      })
      .strict()
      .default(NEUTRAL_TUNING),
    selfTest: z.enum(['pass', 'fail', 'crash']).default('pass'),
    notes: z.string().max(2000).default(''),
  })
  .strict();

export type FirmwareImage = z.infer<typeof FirmwareImageSchema>;

/** The image's tuning of the simulation. */
export function tuningOf(image: FirmwareImage): SimTuning {
  return { ...image.params };
}

/** Parses image bytes; BAD_REQUEST naming the first problem. */
export function parseFirmwareImage(bytes: Uint8Array): FirmwareImage {
  if (bytes.byteLength > MAX_IMAGE_JSON_BYTES) {
    throw new ConsoleError('BAD_REQUEST', `A simulated firmware image has at most ${MAX_IMAGE_JSON_BYTES} bytes, not ${bytes.byteLength}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ConsoleError('BAD_REQUEST', `The firmware image is not JSON: ${(err as Error).message}`);
  }
  const r = FirmwareImageSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ConsoleError(
      'BAD_REQUEST',
      `The firmware image is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'unknown'}`,
    );
  }
  return r.data;
}

/** Encodes an image as the bytes a release carries (used by tests and the supplier's tooling). */
export function encodeFirmwareImage(image: Partial<FirmwareImage> & Pick<FirmwareImage, 'model' | 'version'>): Uint8Array {
  const full = FirmwareImageSchema.parse({ kind: FIRMWARE_IMAGE_KIND, ...image });
  return new TextEncoder().encode(JSON.stringify(full, null, 2) + '\n');
}

/** The image built into the agent: what a module runs before any update, and after a rollback past every slot. */
export function factoryImage(model: string): FirmwareImage {
  return FirmwareImageSchema.parse({ kind: FIRMWARE_IMAGE_KIND, model, version: FACTORY_VERSION, notes: 'factory image' });
}
