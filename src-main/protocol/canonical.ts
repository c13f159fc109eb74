/**
 * Canonical JSON (RFC 8785, "JCS") and the signed JSON documents built on it: plain batches,
 * key announcements and state messages.
 *
 * A signed document is a JSON object with two members added by the signer:
 *   kid = the signer's Ed25519 key id, sig = hex of Ed25519( "<label>\0" ‖ UTF-8( JCS(doc without sig) ) )
 * `kid` is inside the signed bytes, `sig` is not. The label differs per document type, so a
 * signature of one type can never be passed off as another.
 */
import { ConsoleError } from '../core/errors';
import { fromHex, toHex } from './encoding';
import { isKeyId, signDetached, verifyDetached, type SigningKeyPair } from './keys';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function invalid(what: string): ConsoleError {
  return new ConsoleError('PROTOCOL_INVALID', `Cannot canonicalise ${what}.`);
}

function str(s: string): string {
  if (LONE_SURROGATE.test(s)) throw invalid('a string with a lone surrogate');
  // JSON.stringify escapes exactly as RFC 8785 §3.2.2.2 asks (\b \t \n \f \r, other controls as \u00xx).
  return JSON.stringify(s);
}

function write(value: unknown, out: string[]): void {
  if (value === null) out.push('null');
  else if (typeof value === 'boolean') out.push(value ? 'true' : 'false');
  else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid('a non-finite number');
    // ECMAScript Number.prototype.toString is the number form RFC 8785 prescribes (and -0 → 0).
    out.push(JSON.stringify(value));
  } else if (typeof value === 'string') out.push(str(value));
  else if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (i) out.push(',');
      write(item === undefined ? null : item, out);
    });
    out.push(']');
  } else if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, the order RFC 8785 §3.2.3 specifies.
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    out.push('{');
    keys.forEach((k, i) => {
      if (i) out.push(',');
      out.push(str(k), ':');
      write(obj[k], out);
    });
    out.push('}');
  } else throw invalid(`a ${typeof value}`);
}

/** RFC 8785 canonical JSON text of a JSON value (object members sorted, no whitespace). */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, out);
  return out.join('');
}

/** UTF-8 bytes of the canonical JSON of a value. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/** A signed document: the fields of T plus the signer's key id and signature. */
export type Signed<T> = T & { kid: string; sig: string };

/** Adds `kid` and `sig` to a document, signing its canonical form under `label`. */
export function signJson<T extends Record<string, unknown>>(label: string, doc: T, signer: SigningKeyPair): Signed<T> {
  const withKid: Record<string, unknown> = { ...doc, kid: signer.kid };
  delete withKid.sig;
  const sig = signDetached(label, canonicalBytes(withKid), signer.secretKey);
  return { ...doc, kid: signer.kid, sig: toHex(sig) };
}

/** Verifies the `sig` of a parsed signed document against a public key; never throws. */
export function verifySignedJson(label: string, doc: Record<string, unknown>, publicKey: Uint8Array): boolean {
  const sig = fromHex(doc.sig, 64);
  if (!sig || !isKeyId(doc.kid)) return false;
  const rest: Record<string, unknown> = { ...doc };
  delete rest.sig;
  let bytes: Buffer;
  try {
    bytes = canonicalBytes(rest);
  } catch {
    return false;
  }
  return verifyDetached(label, bytes, sig, publicKey);
}

/**
 * True when an object in `text` (valid JSON) names a member twice, compared after unescaping.
 * Parsers disagree on which one counts (the first or the last), so a document holding both could
 * verify in one implementation and mean something else in another; canonical JSON never holds
 * duplicates, so a genuine document never has them.
 */
export function hasDuplicateMember(text: string): boolean {
  // One set of names per open object; null for an array.
  const stack: (Set<string> | null)[] = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: find its closing quote (one not escaped by an odd run of backslashes).
      let j = i + 1;
      for (;;) {
        j = text.indexOf('"', j);
        let k = j - 1;
        while (text.charCodeAt(k) === 0x5c) k--;
        if ((j - 1 - k) % 2 === 0) break;
        j++;
      }
      const names = stack[stack.length - 1];
      if (expectName && names) {
        const raw = text.slice(i + 1, j);
        const name = raw.includes('\\') ? (JSON.parse(text.slice(i, j + 1)) as string) : raw;
        if (names.has(name)) return true;
        names.add(name);
        expectName = false;
      }
      i = j;
    } else if (c === 0x7b) {
      stack.push(new Set());
      expectName = true;
    } else if (c === 0x5b) {
      stack.push(null);
      expectName = false;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      expectName = false;
    } else if (c === 0x2c) {
      expectName = stack[stack.length - 1] != null;
    }
  }
  return false;
}

/**
 * Parses JSON text or UTF-8 bytes into a plain object, or null when it is not one (or when an
 * object in it names a member twice: docs/uplink.md §8).
 */
export function parseJsonObject(input: string | Uint8Array, maxBytes: number): Record<string, unknown> | null {
  if (input.length > maxBytes) return null;
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      return null;
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  return hasDuplicateMember(text) ? null : (value as Record<string, unknown>);
}
