/**
 * The signed JSON documents (root, manifest) as bytes: UTF-8 of RFC 8785 canonical JSON and
 * nothing else. Requiring the canonical form makes the parse unambiguous (no duplicate members,
 * no whitespace games): the bytes a signer saw are the only bytes that mean this document.
 */
import { ConsoleError } from '../core/errors';
import { canonicalBytes } from '../protocol/canonical';
import type { FirmwareRefused } from './refusal';
import { refuse } from './refusal';

/** Largest root or manifest accepted, in bytes. */
export const FIRMWARE_MAX_DOCUMENT_BYTES = 64 * 1024;

/** Canonical bytes of a document. */
export function documentBytes(doc: object): Buffer {
  return canonicalBytes(doc);
}

/**
 * The JSON object in `bytes` when they are exactly its canonical form and it names itself
 * `kind`; otherwise a `malformed` or `wrong_kind` refusal saying why.
 */
export function readDocument(
  bytes: Uint8Array,
  kind: string,
  what: string,
): { ok: true; value: Record<string, unknown> } | FirmwareRefused {
  if (bytes.byteLength > FIRMWARE_MAX_DOCUMENT_BYTES)
    return refuse('malformed', `The ${what} has ${bytes.byteLength} bytes; at most ${FIRMWARE_MAX_DOCUMENT_BYTES} are accepted.`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return refuse('malformed', `The ${what} is not UTF-8 JSON.`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return refuse('malformed', `The ${what} is not a JSON object.`);
  const obj = value as Record<string, unknown>;
  if (obj.kind !== kind) return refuse('wrong_kind', `The ${what} names itself ${JSON.stringify(obj.kind ?? null)}, not "${kind}".`);
  let canonical: Buffer;
  try {
    canonical = canonicalBytes(obj);
  } catch {
    return refuse('malformed', `The ${what} cannot be put in canonical form.`);
  }
  if (!canonical.equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)))
    return refuse('malformed', `The ${what} is not in canonical form (RFC 8785: members sorted, no whitespace, no final newline).`);
  return { ok: true, value: obj };
}

/** The first zod issue as "at path: message". */
export function describeIssue(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  const issue = issues[0];
  const where = issue?.path.length ? issue.path.map(String).join('.') : '(root)';
  return `at ${where}: ${issue?.message ?? 'invalid'}`;
}

/** Throws the refusal as a FIRMWARE_INVALID error (for the parse* functions). */
export function orThrow<T>(r: { ok: true; value: T } | FirmwareRefused): T {
  if (!r.ok) throw new ConsoleError('FIRMWARE_INVALID', r.message);
  return r.value;
}
