import { describe, expect, it } from 'vitest';
import {
  buildPlainBatch,
  buildStateMessage,
  canonicalJson,
  cloudSubscription,
  hasDuplicateMember,
  openPlain,
  openStateMessage,
  parseTopic,
  plantTopics,
  signingKeyPair,
  type OpenPlainOptions,
  type Points,
} from '../../src-main/protocol';
import { ConsoleError } from '../../src-main/core/errors';
import { T0, makeUplinkWorld } from '../helpers/uplink-fixture';

const points: Points = {
  state: { unit: '', samples: [[T0, 1]] },
  energy: {
    unit: 'kWh',
    samples: [
      [T0 + 10, 15234.25],
      [T0 + 20, null],
    ],
  },
};

function setup() {
  const w = makeUplinkWorld();
  const built = buildPlainBatch({ plant: w.plant, machine: w.machine, seq: 7n, from: T0, to: T0 + 999, points, signer: w.plantKey });
  const opts = (over: Partial<OpenPlainOptions> = {}): OpenPlainOptions => ({
    plantPublicKeys: w.plantKeys,
    lastSequence: () => 6n,
    now: T0,
    ...over,
  });
  return { w, built, opts };
}

const reason = (r: { ok: boolean; reason?: string }) => (r.ok ? 'accepted' : r.reason);

describe('canonical JSON (RFC 8785)', () => {
  it('sorts members by UTF-16 code units, writes numbers the ECMAScript way, no whitespace', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], é: 0.5, A: -0, z: 1e21, y: 1e-7, '\ufb01': 2, '\ud83d\ude00': 3 })).toBe(
      // U+1F600 (surrogates D83D DE00) sorts before U+FB01 in UTF-16 order, after it in code points.
      '{"A":0,"a":[true,null,"x"],"b":1,"y":1e-7,"z":1e+21,"é":0.5,"😀":3,"\ufb01":2}',
    );
    expect(canonicalJson('a"b\\c\n\u0001')).toBe('"a\\"b\\\\c\\n\\u0001"');
  });
  it('refuses what JSON cannot carry exactly', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(ConsoleError);
    expect(() => canonicalJson('\ud800')).toThrow(ConsoleError);
  });
});

describe('plain batches', () => {
  it('are canonical JSON that verify and open to the same document', () => {
    const { built, opts } = setup();
    expect(built.json).toBe(canonicalJson(JSON.parse(built.json)));
    const r = openPlain(built.json, opts());
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.batch.points).toEqual(points);
      expect(r.seq).toBe(7n);
    }
    // Readable and verifiable whatever the formatting (a bridge may pretty-print).
    expect(openPlain(JSON.stringify(JSON.parse(built.json), null, 2), opts()).ok).toBe(true);
    expect(openPlain(Buffer.from(built.json), opts()).ok).toBe(true);
  });

  it('refuse with the documented reasons, in order', () => {
    const { w, built, opts } = setup();
    const doc = JSON.parse(built.json) as Record<string, unknown>;
    const edit = (change: Record<string, unknown>) => JSON.stringify({ ...doc, ...change });
    expect(reason(openPlain('nope', opts()))).toBe('malformed');
    expect(reason(openPlain('[]', opts()))).toBe('malformed');
    expect(reason(openPlain(edit({ v: 2 }), opts()))).toBe('unsupported_version');
    expect(reason(openPlain(edit({ extra: 1 }), opts()))).toBe('malformed');
    expect(reason(openPlain(edit({ seq: -1 }), opts()))).toBe('malformed');
    expect(reason(openPlain(edit({ from: T0 + 5 }), opts()))).toBe('malformed'); // a sample before `from`
    expect(reason(openPlain(built.json, opts({ plantPublicKeys: new Map() })))).toBe('unknown_key_id');
    expect(reason(openPlain(edit({ seq: 8 }), opts()))).toBe('bad_signature');
    expect(reason(openPlain(edit({ points: { ...points, state: { unit: '', samples: [[T0, 2]] } } }), opts()))).toBe('bad_signature');
    expect(reason(openPlain(edit({ sig: '0'.repeat(128) }), opts()))).toBe('bad_signature');
    const other = makeUplinkWorld('plant-beta');
    const foreign = buildPlainBatch({
      plant: other.plant,
      machine: w.machine,
      seq: 7n,
      from: T0,
      to: T0 + 999,
      points,
      signer: w.plantKey,
    });
    expect(reason(openPlain(foreign.json, opts()))).toBe('wrong_plant');
    expect(reason(openPlain(built.json, opts({ topic: { plant: w.plant, machine: other.machine } })))).toBe('wrong_plant');
    expect(reason(openPlain(built.json, opts({ lastSequence: () => 7n })))).toBe('duplicate_sequence');
    expect(reason(openPlain(built.json, opts({ lastSequence: () => 9n })))).toBe('replay');
  });

  it('refuse a document naming a member twice, even when the last one is what was signed', () => {
    const { built, opts } = setup();
    expect(reason(openPlain(built.json, opts()))).toBe('accepted');
    // JSON.parse keeps the last "seq" (the signed 7); a parser keeping the first would see 8.
    const twice = built.json.replace('"seq":7', '"seq":8,"seq":7');
    expect((JSON.parse(twice) as { seq: number }).seq).toBe(7);
    expect(reason(openPlain(twice, opts()))).toBe('malformed');
    // An escape does not hide a duplicate.
    expect(reason(openPlain(built.json.replace('"seq":7', '"s\\u0065q":8,"seq":7'), opts()))).toBe('malformed');
    expect(hasDuplicateMember('{"a":{"b":1},"c":[{"b":2},{"b":3}],"d":"{\\"d\\":1}","e\\\\":1,"e":2}')).toBe(false);
    expect(hasDuplicateMember('{"a":[{"b":1,"b":2}]}')).toBe(true);
  });

  it('refuse to build a sequence JSON cannot carry exactly', () => {
    const { w } = setup();
    expect(() =>
      buildPlainBatch({ plant: w.plant, machine: w.machine, seq: 1n << 53n, from: T0, to: T0, points: {}, signer: w.plantKey }),
    ).toThrow(ConsoleError);
  });
});

describe('topics and state messages', () => {
  it('builds and parses the documented topics', () => {
    const { w } = setup();
    const t = plantTopics(w.plant);
    expect(t.sealed(w.machine)).toBe(`pc/v1/${w.plant}/up/sealed/${w.machine}`);
    expect(parseTopic(t.sealed(w.machine))).toEqual({ kind: 'sealed', plant: w.plant, machine: w.machine });
    expect(parseTopic(t.plain(w.machine))).toEqual({ kind: 'plain', plant: w.plant, machine: w.machine });
    expect(parseTopic(t.keys)).toEqual({ kind: 'keys', plant: w.plant });
    expect(parseTopic(t.state)).toEqual({ kind: 'state', plant: w.plant });
    expect(parseTopic(t.down)).toEqual({ kind: 'down', plant: w.plant });
    for (const bad of [
      'pc/v1/ACME/state',
      `pc/v2/${w.plant}/state`,
      `pc/v1/${w.plant}/up/sealed/serial-123`,
      `pc/v1/${w.plant}/up/other/${w.machine}`,
    ]) {
      expect(parseTopic(bad)).toBeNull();
    }
    expect(cloudSubscription('receivers')).toEqual(['$share/receivers/pc/v1/+/up/#', '$share/receivers/pc/v1/+/state']);
  });

  it('signs birth and last-will state messages', () => {
    const { w } = setup();
    const m = buildStateMessage({ plant: w.plant, state: 'offline', session: T0, signer: w.plantKey });
    const r = openStateMessage(m.json, { plantPublicKeys: w.plantKeys, now: T0 });
    expect(r.ok && r.state.state).toBe('offline');
    const forged = buildStateMessage({
      plant: w.plant,
      state: 'online',
      session: T0,
      signer: { ...signingKeyPair(), kid: w.plantKey.kid },
    });
    expect(reason(openStateMessage(forged.json, { plantPublicKeys: w.plantKeys, now: T0 }))).toBe('bad_signature');
  });
});
