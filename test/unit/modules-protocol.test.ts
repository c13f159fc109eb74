/**
 * The module channel's small pieces: the maintenance window in the plant's time zone, the
 * pairing request (signed by the key it announces), HTTP ranges, and the sealed health event.
 */
import { describe, expect, it } from 'vitest';
import { parseRange } from '../../src-main/modules/channel';
import { openHealthEvent, sealHealthEvent, type HealthEventBody } from '../../src-main/protocol/module-health';
import { signPairingRequest, verifyPairingRequest } from '../../src-main/modules/pairing';
import { clientHost } from '../../src-main/modules/threats';
import { windowAt, windowText } from '../../src-main/modules/window';
import { boxKeyPair, fingerprint, keyId, signingKeyPair } from '../../src-main/protocol/keys';
import { plantPseudonym } from '../../src-main/protocol/pseudonym';

describe('maintenance window', () => {
  const sat = { days: ['sat' as const], start: '06:00', end: '14:00' };
  // Saturday 2026-03-28 in Berlin (UTC+1 until the Sunday 02:00 change).
  const at = (iso: string) => Date.parse(iso);

  it('is open on its day between start and end, in the plant’s time zone', () => {
    expect(windowAt(at('2026-03-28T04:59:00Z'), sat, 'Europe/Berlin').open).toBe(false);
    expect(windowAt(at('2026-03-28T05:00:00Z'), sat, 'Europe/Berlin')).toEqual({
      open: true,
      until: at('2026-03-28T13:00:00Z'),
      nextOpen: null,
    });
    expect(windowAt(at('2026-03-28T12:59:59Z'), sat, 'Europe/Berlin').open).toBe(true);
    expect(windowAt(at('2026-03-28T13:00:00Z'), sat, 'Europe/Berlin').open).toBe(false);
    // A week later it is summer time: the window still opens at 06:00 on the wall clock.
    expect(windowAt(at('2026-03-29T12:00:00Z'), sat, 'Europe/Berlin').nextOpen).toBe(at('2026-04-04T04:00:00Z'));
  });

  it('runs past midnight when it ends before it starts, and belongs to the day it starts', () => {
    const night = { days: ['fri' as const], start: '22:00', end: '02:00' };
    expect(windowAt(at('2026-03-27T22:30:00Z'), night, 'UTC').open).toBe(true);
    expect(windowAt(at('2026-03-28T01:59:00Z'), night, 'UTC').open).toBe(true);
    expect(windowAt(at('2026-03-28T02:00:00Z'), night, 'UTC').open).toBe(false);
    expect(windowAt(at('2026-03-28T23:00:00Z'), night, 'UTC').open).toBe(false);
  });

  it('is said in words', () => {
    expect(windowText(sat)).toBe('Sat 06:00–14:00');
    expect(windowText({ days: ['fri', 'mon', 'wed', 'tue', 'thu'], start: '22:00', end: '02:00' })).toBe('Mon–Fri 22:00–02:00');
    expect(windowText({ days: ['sun', 'tue'], start: '12:00', end: '13:00' })).toBe('Tue, Sun 12:00–13:00');
    expect(windowText('always')).toMatch(/^always/);
    expect(windowAt(0, 'always', 'UTC').open).toBe(true);
  });
});

describe('pairing request', () => {
  const now = Date.now();
  it('verifies with the key it announces and shows that key’s fingerprint', () => {
    const keys = signingKeyPair();
    const doc = signPairingRequest({ module: 'mod-1', model: 'im250', time: now }, keys);
    const v = verifyPairingRequest(JSON.parse(JSON.stringify(doc)), { now, maxSkewMs: 60_000 });
    expect(v).toMatchObject({ ok: true, kid: keyId(keys.publicKey, 'ed25519'), fingerprint: fingerprint(keys.publicKey, 'ed25519') });
  });

  it('refuses a request signed by another key than it announces, a changed member, or a far-off clock', () => {
    const keys = signingKeyPair();
    const other = signingKeyPair();
    const doc = signPairingRequest({ module: 'mod-1', model: 'im250', time: now }, keys);
    expect(verifyPairingRequest({ ...doc, publicKey: other.publicKey.toString('base64') }, { now, maxSkewMs: 60_000 })).toMatchObject({
      ok: false,
      code: 'bad_signature',
    });
    expect(verifyPairingRequest({ ...doc, module: 'mod-2' }, { now, maxSkewMs: 60_000 })).toMatchObject({
      ok: false,
      code: 'bad_signature',
    });
    expect(verifyPairingRequest({ ...doc, extra: 1 }, { now, maxSkewMs: 60_000 })).toMatchObject({ ok: false, code: 'malformed' });
    expect(verifyPairingRequest(doc, { now: now + 120_000, maxSkewMs: 60_000 })).toMatchObject({ ok: false, code: 'clock_skew' });
    expect(verifyPairingRequest('x', { now, maxSkewMs: 60_000 })).toMatchObject({ ok: false, code: 'malformed' });
  });
});

describe('HTTP ranges of an image', () => {
  it('continues from an offset, or serves one span; refuses what does not fit', () => {
    expect(parseRange(undefined, 100)).toBeNull();
    expect(parseRange('bytes=40-', 100)).toEqual({ start: 40, end: 100 });
    expect(parseRange('bytes=10-19', 100)).toEqual({ start: 10, end: 20 });
    expect(parseRange('bytes=90-500', 100)).toEqual({ start: 90, end: 100 });
    expect(parseRange('bytes=100-', 100)).toBe('bad');
    expect(parseRange('bytes=-10', 100)).toBe('bad');
    expect(parseRange('bytes=0-1,5-6', 100)).toBe('bad');
    expect(parseRange('items=0-1', 100)).toBe('bad');
  });

  it('tells a Modbus client’s host from its address and port', () => {
    expect(clientHost('10.0.0.9:50122')).toBe('10.0.0.9');
    expect(clientHost('::ffff:127.0.0.2:4000')).toBe('127.0.0.2');
    expect(clientHost('[::1]:502')).toBe('::1');
  });
});

describe('sealed health event', () => {
  it('opens only with the cloud key and the plant key, and carries the module only inside', () => {
    const plantKey = signingKeyPair();
    const cloud = boxKeyPair();
    const plant = plantPseudonym(Buffer.alloc(32, 1), 'p');
    const body: HealthEventBody = {
      v: 1,
      plant,
      machine: '',
      module: 'mod-7',
      seq: 12,
      kind: 'tamper',
      at: 1,
      active: true,
      message: 'Enclosure opened',
    };
    const bytes = sealHealthEvent(body, {
      plant: plantKey,
      cloudBox: { kid: keyId(cloud.publicKey, 'x25519'), publicKey: cloud.publicKey },
    });
    expect(Buffer.from(bytes).toString()).not.toContain('mod-7');
    const ctx = { plantKeys: (kid: string) => (kid === plantKey.kid ? plantKey.publicKey : null), cloudBox: () => cloud, plant };
    expect(openHealthEvent(bytes, ctx)).toEqual({ ok: true, body, kid: plantKey.kid });
    expect(openHealthEvent(bytes, { ...ctx, cloudBox: () => boxKeyPair() })).toMatchObject({ ok: false, code: 'undecryptable' });
    expect(openHealthEvent(bytes, { ...ctx, plantKeys: () => signingKeyPair().publicKey })).toMatchObject({
      ok: false,
      code: 'bad_signature',
    });
    const doc = JSON.parse(Buffer.from(bytes).toString()) as Record<string, unknown>;
    expect(openHealthEvent(Buffer.from(JSON.stringify({ ...doc, plant: plantPseudonym(Buffer.alloc(32, 2), 'q') })), ctx)).toMatchObject({
      ok: false,
    });
  });
});
