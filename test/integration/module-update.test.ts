/**
 * The module's update client against an HTTPS stand-in of the console on loopback: resuming an
 * interrupted transfer with a Range request (also after the module restarted), stall timeouts,
 * endless data cut at the manifest's size, a server that ignores Range, a manifest refused
 * before any image byte is fetched, and the pinned certificate. Heartbeats are posted, signed,
 * to the same stand-in.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureCertificate } from '../../src-main/web/tls';
import { startHeartbeats, verifyHeartbeat, type HeartbeatBody } from '../../device-agent/heartbeat';
import { ensureIdentity } from '../../device-agent/identity';
import { openState, readState } from '../../device-agent/module-state';
import { rollBack, installRelease } from '../../device-agent/slots';
import { fetchAndInstall, partPath, type UpdateOptions, type UpdateProgress } from '../../device-agent/updater';
import { encodeFirmwareImage } from '../../device-agent/firmware-image';
import { makeRelease, makeRoot, releaseKeys, type ReleaseKey, type TestRelease } from '../helpers/firmware-fixtures';
import { startConsoleStandIn, type ConsoleStandIn } from '../helpers/range-server';

let base: string;
let standIn: ConsoleStandIn;
let keys: ReleaseKey[];
let root: ReturnType<typeof makeRoot>;
let dir: string;
let release: TestRelease;

/** A valid simulated image padded with JSON whitespace, so a transfer takes many chunks. */
function bigImage(version: string): Uint8Array {
  const img = encodeFirmwareImage({ model: 'im250', version });
  return new Uint8Array([...img, ...Buffer.alloc(60_000 - img.byteLength, 0x20)]);
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'module-update-'));
  standIn = await startConsoleStandIn(join(base, 'console'));
  keys = releaseKeys(3);
  root = makeRoot(keys, 2);
});
afterAll(async () => {
  await standIn.close();
  rmSync(base, { recursive: true, force: true });
});
beforeEach(() => {
  dir = mkdtempSync(join(base, 'state-'));
  openState(dir, 'im250', root.bytes);
  release = makeRelease({ version: '1.2.0', imageBytes: bigImage('1.2.0') }, keys.slice(0, 2));
  standIn.releases.set('r-120', { manifest: release.manifestBytes, signatures: release.signatures, image: release.image });
  standIn.imagePlans.length = 0;
  standIn.requests.length = 0;
});

function update(over: Partial<UpdateOptions> = {}) {
  return fetchAndInstall({
    dir,
    endpoint: { url: standIn.url, tls: { ca: standIn.certPem }, moduleId: 'm-1' },
    id: 'r-120',
    now: Date.now,
    limits: { stallMs: 2000 },
    sleep: () => Promise.resolve(),
    ...over,
  });
}
const imageRanges = () => standIn.requests.filter((r) => r.path.endsWith('/image')).map((r) => r.range);

describe('update client', () => {
  it('resumes an interrupted transfer with a Range request, also after a restart', async () => {
    standIn.imagePlans.push({ kind: 'cut', after: 20_000 });
    const first = await update({ attempts: 1 });
    expect(first).toMatchObject({ ok: false, retry: true, code: 'network' });
    // The partial file stays in the state directory for the next attempt (or the next start).
    const kept = statSync(partPath(dir, release.manifest)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(20_000);
    const second = await update();
    expect(second).toMatchObject({ ok: true, slot: 'a' });
    expect(imageRanges()).toEqual([null, `bytes=${kept}-`]);
    expect(standIn.requests.every((r) => r.moduleId === 'm-1')).toBe(true);
    expect(readState(dir)).toMatchObject({ pending: 'a', slots: { a: { version: '1.2.0', size: 60_000 } } });
    expect(existsSync(partPath(dir, release.manifest))).toBe(false);
  });

  it('aborts a stalled transfer after the stall timeout and continues where it stopped', async () => {
    standIn.imagePlans.push({ kind: 'stall', after: 30_000 });
    const t0 = Date.now();
    const stalled = await update({ attempts: 1, limits: { stallMs: 400 } });
    expect(stalled).toMatchObject({ ok: false, retry: true, code: 'stalled' });
    expect(Date.now() - t0).toBeLessThan(5000);
    standIn.imagePlans.push({ kind: 'stall', after: 10_000 });
    const progress: string[] = [];
    const done = await update({ limits: { stallMs: 400 }, onProgress: (p) => progress.push(p.state) });
    expect(done).toMatchObject({ ok: true });
    const ranges = imageRanges();
    expect(ranges).toHaveLength(3);
    expect(ranges[1]).toBe('bytes=30000-');
    expect(ranges[2]).toBe('bytes=40000-');
    expect(progress).toContain('downloading');
    expect(progress.at(-1)).toBe('installing');
  });

  it('aborts a 1 byte/s drip (it never stalls) as too slow, retries from where it stopped, and reports too_slow', async () => {
    standIn.imagePlans.push(
      { kind: 'drip', after: 10_000, perTick: 1, tickMs: 1000 },
      { kind: 'drip', after: 0, perTick: 1, tickMs: 1000 },
    );
    const progress: UpdateProgress[] = [];
    // The stall timeout alone would wait forever: a byte arrives every second.
    const r = await update({
      attempts: 2,
      limits: { stallMs: 10_000, minBytesPerSecond: 2000, rateWindowMs: 300 },
      onProgress: (p) => progress.push(p),
    });
    expect(r).toMatchObject({
      ok: false,
      retry: true,
      code: 'too_slow',
      message: expect.stringMatching(/below the minimum of 2000 bytes\/s/),
    });
    expect(progress.at(-1)).toMatchObject({ state: 'failed', version: '1.2.0', error: expect.stringMatching(/^too_slow: /) });
    const kept = statSync(partPath(dir, release.manifest)).size;
    expect(kept).toBeGreaterThanOrEqual(10_000);
    expect(imageRanges()).toEqual([null, expect.stringMatching(/^bytes=1\d{4}-$/)]);
    expect(readState(dir)).toMatchObject({ pending: null, slots: { a: null, b: null } });
  });

  it('stops at once when the module stops: the transfer is aborted, the part kept, nothing written after', async () => {
    standIn.imagePlans.push({ kind: 'drip', after: 5000, perTick: 500, tickMs: 50 });
    const stop = new AbortController();
    let received = 0;
    let midway!: () => void;
    const reached = new Promise<void>((r) => (midway = r));
    const going = update({
      signal: stop.signal,
      onProgress: (p) => {
        received = p.received;
        if (received >= 8000) midway();
      },
    });
    await reached;
    stop.abort();
    expect(await going).toMatchObject({ ok: false, code: 'aborted' });
    const [req] = await standIn.imageRequests(1);
    await standIn.responseClosed(req!);
    // The file holds exactly what arrived before the abort; the drip had seconds left to go.
    expect(statSync(partPath(dir, release.manifest)).size).toBe(received);
    expect(req!.sent).toBeLessThan(60_000);
    expect(readState(dir)).toMatchObject({ pending: null, slots: { a: null, b: null } });
  });

  it('never installs a release it rolled back from again, under any update id; a newer one, or an operator, does', async () => {
    expect(await update()).toMatchObject({ ok: true, slot: 'a' });
    expect(rollBack(dir, 'a', 'self_test_failed', 'the self-test of 1.2.0 failed', Date.now())).toMatchObject({
      reason: 'self_test_failed',
    });
    standIn.releases.set('r-120-again', standIn.releases.get('r-120')!);
    for (const id of ['r-120', 'r-120-again']) {
      const again = await update({ id });
      expect(again).toMatchObject({ ok: false, retry: false, code: 'rolled_back' });
      expect(again.ok ? '' : again.message).toMatch(/Firmware 1\.2\.0 was rolled back on this module \(self_test_failed/);
    }
    expect(imageRanges()).toEqual([null]);
    expect(readState(dir).declined).toEqual([
      expect.objectContaining({ kind: 'rolled-back', version: '1.2.0', reason: 'self_test_failed' }),
    ]);
    const newer = makeRelease({ version: '1.2.1', imageBytes: bigImage('1.2.1') }, keys.slice(0, 2));
    standIn.releases.set('r-121', { manifest: newer.manifestBytes, signatures: newer.signatures, image: newer.image });
    expect(await update({ id: 'r-121' })).toMatchObject({ ok: true });
    // An operator installing the rolled-back one on purpose (USB) forgets the entry.
    const installed = await installRelease(
      dir,
      { manifest: release.manifestBytes, signatures: release.signatures, image: release.image },
      { now: Date.now },
    );
    expect(installed).toMatchObject({ ok: true });
    expect(readState(dir).declined).toEqual([]);
  });

  it('refuses more bytes than the manifest announces, announced or not, and keeps none of them', async () => {
    standIn.imagePlans.push({ kind: 'extra', bytes: 1000, announce: true });
    expect(await update()).toMatchObject({ ok: false, retry: false, code: 'image_too_large' });
    standIn.imagePlans.push({ kind: 'extra', bytes: 100_000, announce: false });
    expect(await update()).toMatchObject({ ok: false, retry: false, code: 'image_too_large' });
    expect(existsSync(partPath(dir, release.manifest))).toBe(false);
    expect(readState(dir)).toMatchObject({ pending: null, slots: { a: null, b: null } });
    expect(imageRanges()).toEqual([null, null]);
  });

  it('starts over when the server ignores the Range header', async () => {
    standIn.imagePlans.push({ kind: 'cut', after: 8000 }, { kind: 'ignore-range' });
    expect(await update()).toMatchObject({ ok: true });
    const ranges = imageRanges();
    expect(ranges[0]).toBeNull();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
  });

  it('verifies the manifest against its own root before fetching a single image byte', async () => {
    const foreign = makeRelease({ version: '1.3.0' }, releaseKeys(2, 'attacker'));
    standIn.releases.set('evil', { manifest: foreign.manifestBytes, signatures: foreign.signatures, image: foreign.image });
    expect(await update({ id: 'evil' })).toMatchObject({ ok: false, retry: false, code: 'unknown_key' });
    // The manifest of one release served with the image of another.
    standIn.releases.set('mixed', { manifest: release.manifestBytes, signatures: release.signatures, image: bigImage('1.2.1') });
    expect(await update({ id: 'mixed' })).toMatchObject({ ok: false, code: 'image_mismatch' });
    expect(imageRanges()).toEqual([null]);
    expect(await update({ id: 'missing' })).toMatchObject({ ok: false, code: 'network' });
  });

  it('trusts only the pinned console certificate', async () => {
    const other = await ensureCertificate({ dataDir: join(base, 'other'), hosts: ['127.0.0.1'] });
    const r = await update({ endpoint: { url: standIn.url, tls: { ca: other.cert }, moduleId: 'm-1' } });
    expect(r).toMatchObject({ ok: false, code: 'network' });
    expect(r.ok ? '' : r.message).toMatch(/self.signed|unable to verify|certificate/i);
    const pinned = await update({
      endpoint: { url: standIn.url, tls: { ca: standIn.certPem, fingerprint256: other.fingerprint }, moduleId: 'm-1' },
    });
    expect(pinned.ok ? '' : pinned.message).toMatch(/is not the pinned/);
    expect(
      await update({ endpoint: { url: standIn.url, tls: { ca: standIn.certPem, fingerprint256: standIn.fingerprint }, moduleId: 'm-1' } }),
    ).toMatchObject({ ok: true });
  });
});

describe('heartbeat client', () => {
  it('posts signed heartbeats the console verifies, and hands the answer back', async () => {
    const { identity } = ensureIdentity(dir, Date.now());
    const answers: unknown[] = [];
    standIn.answer = (h) => (h['seq'] === 2 ? { confirmHealth: true } : {});
    const body: Omit<HeartbeatBody, 'seq'> = {
      kind: 'plant-console/module-heartbeat/v1',
      module: 'm-1',
      model: 'im250',
      boot: 1,
      time: Date.now(),
      uptimeS: 1,
      firmware: { version: '1.0.0', blake2b512: 'cd'.repeat(64), slot: null, state: 'factory', trialBoot: 0 },
      rollbacks: [],
      tamper: { open: false, since: null },
      resources: { rssBytes: 1, heapUsedBytes: 1, cpuPercent: 0 },
      modbusClients: [],
      update: { state: 'idle', version: null, received: 0, total: 0, error: null },
    };
    const hb = startHeartbeats({
      endpoint: { url: standIn.url, tls: { ca: standIn.certPem }, moduleId: 'm-1' },
      keys: identity.keys,
      intervalMs: 60_000,
      collect: () => ({ ...body, time: Date.now() }),
      onAnswer: (a) => answers.push(a),
    });
    const first = await standIn.nextHeartbeat();
    hb.sendNow();
    const second = await standIn.nextHeartbeat((h) => h['seq'] === 2);
    await hb.stop();
    expect(first['seq']).toBe(1);
    for (const h of [first, second]) {
      expect(verifyHeartbeat(h, identity.keys.publicKey, { now: Date.now(), maxSkewMs: 5000 })).toMatchObject({ ok: true });
    }
    expect(answers).toContainEqual({ confirmHealth: true });
    expect(hb.stats()).toMatchObject({ sent: 2, failed: 0 });
    standIn.answer = () => ({});
  });
});
