import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  fromBase32,
  isPseudonym,
  machinePseudonym,
  plantPseudonym,
  pseudonymBytes,
  pseudonymFromToken,
  pseudonymToken,
  randomBytes,
  toBase32,
} from '../../src-main/protocol';
import { ConsoleError } from '../../src-main/core/errors';

const vectors = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/uplink-vectors.json'), 'utf8')) as {
  inputs: { pseudonymKey: string; plantId: string; machineId: string };
  pseudonyms: { plant: string; machine: string };
};

describe('base32 (RFC 4648, lowercase, unpadded)', () => {
  it('matches the RFC test vectors and round-trips', () => {
    const rfc: [string, string][] = [
      ['', ''],
      ['f', 'my'],
      ['fo', 'mzxq'],
      ['foo', 'mzxw6'],
      ['foob', 'mzxw6yq'],
      ['fooba', 'mzxw6ytb'],
      ['foobar', 'mzxw6ytboi'],
    ];
    for (const [plain, enc] of rfc) {
      expect(toBase32(Buffer.from(plain))).toBe(enc);
      expect(fromBase32(enc)?.toString()).toBe(plain);
    }
  });
  it('refuses non-canonical text', () => {
    expect(fromBase32('MZXQ')).toBeNull();
    expect(fromBase32('mzxr')).toBeNull(); // non-zero padding bits
    expect(fromBase32('m')).toBeNull();
    expect(fromBase32('mzx1')).toBeNull();
  });
});

describe('pseudonyms', () => {
  const key = randomBytes(32);

  it('match the documented vector', () => {
    const k = Buffer.from(vectors.inputs.pseudonymKey, 'hex');
    expect(plantPseudonym(k, vectors.inputs.plantId)).toBe(vectors.pseudonyms.plant);
    expect(machinePseudonym(k, vectors.inputs.machineId)).toBe(vectors.pseudonyms.machine);
  });

  it('are 16 base32 characters, stable for one key, different for another', () => {
    const a = machinePseudonym(key, 'IM250-SN-004711');
    expect(a).toMatch(/^[a-z2-7]{16}$/);
    expect(isPseudonym(a)).toBe(true);
    expect(machinePseudonym(key, 'IM250-SN-004711')).toBe(a);
    expect(machinePseudonym(randomBytes(32), 'IM250-SN-004711')).not.toBe(a);
    expect(machinePseudonym(key, 'IM250-SN-004712')).not.toBe(a);
  });

  it('separate plants from machines of the same identifier', () => {
    expect(plantPseudonym(key, 'same')).not.toBe(machinePseudonym(key, 'same'));
  });

  it('never contain the identifier and round-trip between token and bytes', () => {
    const t = plantPseudonym(key, 'acme');
    expect(t).not.toContain('acme');
    const b = pseudonymFromToken(t)!;
    expect(b).toHaveLength(10);
    expect(b.equals(pseudonymBytes(key, 'plant', 'acme'))).toBe(true);
    expect(pseudonymToken(b)).toBe(t);
    expect(pseudonymFromToken('tooshort')).toBeNull();
  });

  it('treat identifiers as exact UTF-8 and refuse what is not well-formed', () => {
    expect(machinePseudonym(key, 'Préss-1')).not.toBe(machinePseudonym(key, 'Pre\u0301ss-1'));
    expect(() => machinePseudonym(key, '')).toThrow(ConsoleError);
    expect(() => machinePseudonym(key, 'x\ud800')).toThrow(ConsoleError);
    expect(() => machinePseudonym(key, 'x'.repeat(257))).toThrow(ConsoleError);
    expect(() => machinePseudonym(Buffer.alloc(16), 'x')).toThrow(ConsoleError);
  });
});
