/**
 * k-of-n: counts the distinct keys of a root that validly signed a document, with the trusted
 * comment bound to that document. A key listed twice, or a signature given twice, counts once;
 * a key that is not in the root (a removed key after a rotation) never counts.
 */
import { parsePublicKey, parseSignature, verifyMinisign, type MinisignPublicKey } from './minisign';
import { refuse, type FirmwareRefusal, type FirmwareRefused } from './refusal';

/** A root key with its parsed minisign public key. */
export interface NamedKey {
  name: string;
  key: MinisignPublicKey;
}

/** Parses the keys of a root (their public-key lines); throws FIRMWARE_INVALID. */
export function namedKeys(keys: readonly { name: string; publicKey: string }[]): NamedKey[] {
  return keys.map((k) => ({ name: k.name, key: parsePublicKey(k.publicKey) }));
}

// When no signature counted, the refusal names the most telling failure.
const PRECEDENCE: FirmwareRefusal[] = ['legacy_signature', 'bad_signature', 'unknown_key', 'malformed'];

/**
 * Verifies `signatures` (`.minisig` texts) of `data` against `keys`, requiring the trusted
 * comment `expectedComment`; ok when at least `threshold` distinct keys signed.
 */
export function countSignatures(p: {
  data: Uint8Array;
  signatures: readonly string[];
  keys: readonly NamedKey[];
  threshold: number;
  expectedComment: string;
  what: string;
}): { ok: true; signers: string[] } | FirmwareRefused {
  const signed = new Set<string>();
  const failures: { code: FirmwareRefusal; message: string }[] = [];
  p.signatures.forEach((text, i) => {
    const label = `signature ${i + 1}`;
    let sig;
    try {
      sig = parseSignature(text);
    } catch (err) {
      failures.push({ code: 'malformed', message: `${label}: ${(err as Error).message}` });
      return;
    }
    const named = p.keys.find((k) => k.key.keyId === sig.keyId);
    if (!named) {
      // Checked first for legacy signatures too: the tag tells nothing about who made it.
      const code = sig.algorithm === 'ED' ? 'unknown_key' : 'legacy_signature';
      failures.push({
        code,
        message: `${label}: key ${sig.keyId} is not a key of this root${code === 'legacy_signature' ? ' (and it is a legacy "Ed" signature)' : ''}.`,
      });
      return;
    }
    const r = verifyMinisign(p.data, sig, named.key);
    if (!r.ok) {
      failures.push({ code: r.code, message: `${label} (${named.name}): ${r.message}` });
      return;
    }
    if (r.trustedComment !== p.expectedComment) {
      failures.push({
        code: 'bad_signature',
        message: `${label} (${named.name}) was made for another document: its trusted comment is "${r.trustedComment}", this ${p.what} needs "${p.expectedComment}".`,
      });
      return;
    }
    signed.add(named.name);
  });
  if (signed.size >= p.threshold) return { ok: true, signers: p.keys.map((k) => k.name).filter((n) => signed.has(n)) };
  const detail = failures.length ? ` ${failures.map((f) => f.message).join(' ')}` : '';
  if (signed.size === 0 && failures.length > 0) {
    const code = PRECEDENCE.find((c) => failures.some((f) => f.code === c)) ?? 'bad_signature';
    return refuse(code, `No valid signature on the ${p.what}.${detail}`);
  }
  return refuse(
    'below_threshold',
    `The ${p.what} is signed by ${signed.size} of the ${p.threshold} keys it needs${signed.size ? ` (${[...signed].join(', ')})` : ''}.${detail}`,
  );
}
