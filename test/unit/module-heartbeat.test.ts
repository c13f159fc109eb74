/**
 * The module's identity and its signed heartbeats: the key kept 0600 and stable across starts,
 * the fingerprint format people compare, and verifyHeartbeat (the console's check) refusing a
 * wrong key, an altered field, a malformed document and a skewed clock.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signingKeyPair } from '../../src-main/protocol/keys';
import { signJson } from '../../src-main/protocol/canonical';
import { ensureIdentity, readIdentity } from '../../device-agent/identity';
import { statePaths } from '../../device-agent/module-state';
import {
  HEARTBEAT_KIND,
  HEARTBEAT_LABEL,
  isNewerHeartbeat,
  signHeartbeat,
  verifyHeartbeat,
  type HeartbeatBody,
} from '../../device-agent/heartbeat';

const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);
let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'module-id-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function body(over: Partial<HeartbeatBody> = {}): HeartbeatBody {
  return {
    kind: HEARTBEAT_KIND,
    module: 'press-7',
    model: 'im250',
    boot: 4,
    seq: 12,
    time: T0,
    uptimeS: 3600.5,
    firmware: { version: '1.2.0', blake2b512: 'ab'.repeat(64), slot: 'b', state: 'committed', trialBoot: 0 },
    rollbacks: [
      {
        at: T0 - 60_000,
        from: { slot: 'a', version: '1.3.0' },
        to: { slot: 'b', version: '1.2.0' },
        reason: 'self_test_failed',
        detail: 'the self-test of 1.3.0 failed',
        boot: 3,
      },
    ],
    tamper: { open: true, since: T0 - 5000 },
    resources: { rssBytes: 61_234_176, heapUsedBytes: 12_000_000, cpuPercent: 1.5 },
    modbusClients: ['127.0.0.1:50412'],
    update: { state: 'idle', version: null, received: 0, total: 0, error: null },
    ...over,
  };
}

describe('module identity', () => {
  it('is made once, kept 0600, and shows a fingerprint of 8 groups', () => {
    const a = ensureIdentity(dir, T0);
    expect(a.created).toBe(true);
    expect(statSync(statePaths(dir).identity).mode & 0o777).toBe(0o600);
    expect(a.identity.fingerprint).toMatch(/^([0-9a-f]{4} ){7}[0-9a-f]{4}$/);
    expect(a.identity.fingerprint.replace(/ /g, '').slice(0, 16)).toBe(a.identity.kid);
    const b = ensureIdentity(dir, T0 + 1000);
    expect(b.created).toBe(false);
    expect(b.identity.keys.publicKey.equals(a.identity.keys.publicKey)).toBe(true);
    chmodSync(statePaths(dir).identity, 0o644);
    expect(readIdentity(dir)?.kid).toBe(a.identity.kid);
    expect(statSync(statePaths(dir).identity).mode & 0o777).toBe(0o600);
  });

  it('refuses a damaged identity file', () => {
    ensureIdentity(dir, T0);
    writeFileSync(statePaths(dir).identity, '{"kind":"plant-console/module-identity/v1","secretKey":"AAAA","created":1}');
    expect(() => readIdentity(dir)).toThrow(/identity .* is damaged/);
  });
});

describe('signed heartbeats', () => {
  const keys = signingKeyPair();
  const opts = { now: T0 + 2000, maxSkewMs: 30_000 };

  it('verify with the paired key, and carry every figure', () => {
    const doc = signHeartbeat(body(), keys);
    expect(doc.kid).toBe(keys.kid);
    const r = verifyHeartbeat(JSON.parse(JSON.stringify(doc)), keys.publicKey, opts);
    expect(r).toMatchObject({ ok: true, skewMs: -2000, heartbeat: { module: 'press-7', seq: 12, tamper: { open: true } } });
  });

  it('are refused when signed by another key, altered, malformed or from a skewed clock', () => {
    const doc = signHeartbeat(body(), keys);
    const other = signingKeyPair();
    expect(verifyHeartbeat(doc, other.publicKey, opts)).toMatchObject({ ok: false, code: 'wrong_key' });
    expect(verifyHeartbeat(signHeartbeat(body(), other), keys.publicKey, opts)).toMatchObject({ ok: false, code: 'wrong_key' });
    // A signature by another key under the right kid.
    const forged = { ...signHeartbeat(body(), other), kid: keys.kid };
    expect(verifyHeartbeat(forged, keys.publicKey, opts)).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(verifyHeartbeat({ ...doc, tamper: { open: false, since: null } }, keys.publicKey, opts)).toMatchObject({
      ok: false,
      code: 'bad_signature',
    });
    expect(verifyHeartbeat({ ...doc, modbusClients: [] }, keys.publicKey, opts)).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(verifyHeartbeat({ ...doc, extra: 1 }, keys.publicKey, opts)).toMatchObject({ ok: false, code: 'malformed' });
    expect(verifyHeartbeat([doc], keys.publicKey, opts)).toMatchObject({ ok: false, code: 'malformed' });
    expect(verifyHeartbeat({ ...doc, sig: undefined }, keys.publicKey, opts)).toMatchObject({ ok: false, code: 'malformed' });
    const late = signHeartbeat(body({ time: T0 - 60_000 }), keys);
    expect(verifyHeartbeat(late, keys.publicKey, opts)).toMatchObject({ ok: false, code: 'clock_skew' });
    expect(verifyHeartbeat(late, keys.publicKey, { ...opts, maxSkewMs: 70_000 })).toMatchObject({ ok: true });
  });

  it('are signed under their own label: a signature made for another document type does not pass', () => {
    const elsewhere = signJson('plant-console/plain-batch/v1', body(), keys);
    expect(verifyHeartbeat(elsewhere, keys.publicKey, opts)).toMatchObject({ ok: false, code: 'bad_signature' });
    expect(verifyHeartbeat(signJson(HEARTBEAT_LABEL, body(), keys), keys.publicKey, opts)).toMatchObject({ ok: true });
  });

  it('order across restarts by (boot, seq)', () => {
    expect(isNewerHeartbeat(null, { boot: 1, seq: 1 })).toBe(true);
    expect(isNewerHeartbeat({ boot: 2, seq: 9 }, { boot: 2, seq: 10 })).toBe(true);
    expect(isNewerHeartbeat({ boot: 2, seq: 9 }, { boot: 3, seq: 1 })).toBe(true);
    expect(isNewerHeartbeat({ boot: 2, seq: 9 }, { boot: 2, seq: 9 })).toBe(false);
    expect(isNewerHeartbeat({ boot: 3, seq: 1 }, { boot: 2, seq: 99 })).toBe(false);
  });
});
