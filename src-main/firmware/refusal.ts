/**
 * Why a firmware release or root was refused: one code per check of docs/firmware.md §7, with
 * plain words for people (the console's update page, the module's report, the supplier CLI).
 */

/** Every reason the console or a module refuses a release, a root rotation or an image. */
export type FirmwareRefusal =
  | 'malformed'
  | 'wrong_kind'
  | 'legacy_signature'
  | 'bad_signature'
  | 'unknown_key'
  | 'below_threshold'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_model'
  | 'version_rollback'
  | 'version_reissued'
  | 'counter_rollback'
  | 'image_too_large'
  | 'image_mismatch'
  | 'root_rollback';

/** Every refusal code, in the order the checks run. */
export const FIRMWARE_REFUSALS: readonly FirmwareRefusal[] = [
  'malformed',
  'wrong_kind',
  'legacy_signature',
  'bad_signature',
  'unknown_key',
  'below_threshold',
  'root_rollback',
  'expired',
  'not_yet_valid',
  'wrong_model',
  'image_too_large',
  'version_rollback',
  'version_reissued',
  'counter_rollback',
  'image_mismatch',
];

/** Plain words for each refusal. */
export const FIRMWARE_REFUSAL_TEXT: Record<FirmwareRefusal, string> = {
  malformed: 'The release is damaged or not in the expected format.',
  wrong_kind: 'The file is not the kind of document expected here (for example a root where a manifest belongs).',
  legacy_signature: 'A signature uses minisign’s legacy algorithm, which is not accepted; it must be re-signed.',
  bad_signature: 'A signature does not match the release: it was altered or signed for another document.',
  unknown_key: 'A signature was made by a key that is not (or no longer) a release key.',
  below_threshold: 'Not enough release keys signed it.',
  expired: 'The release has expired; ask the supplier for a current one.',
  not_yet_valid: 'The release is dated in the future; check the clock.',
  wrong_model: 'The firmware is not made for this module’s hardware model.',
  version_rollback: 'The firmware is older than the one installed.',
  version_reissued:
    'This version exists already with another image: a version is never issued twice, so one of the two is not genuine or was rebuilt.',
  counter_rollback: 'The firmware’s security counter is lower than the installed one’s (a known-vulnerable release).',
  image_too_large: 'The image is larger than allowed or than its manifest says.',
  image_mismatch: 'The image does not match its manifest (another image, or damaged in transfer).',
  root_rollback: 'The new root of trust is not newer than the pinned one.',
};

/** A refusal as the verify functions return it. */
export interface FirmwareRefused {
  ok: false;
  code: FirmwareRefusal;
  message: string;
}

/** Builds a refusal result. */
export function refuse(code: FirmwareRefusal, message: string): FirmwareRefused {
  return { ok: false, code, message };
}
