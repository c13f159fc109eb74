/**
 * The module's A/B slots on a temporary state directory: install → trial → commit, fallback on a
 * failed trial, the trial boot limit, a damaged slot, power loss between the install's steps,
 * the pinned root, and every attack class refused by the module itself (the console's checks
 * bypassed: releases go straight to installRelease).
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsoleError } from '../../src-main/core/errors';
import { parseFirmwareImage } from '../../device-agent/firmware-image';
import { lockState, openState, readState, statePaths } from '../../device-agent/module-state';
import { commitTrial, installRelease, planBoot, rollBack, rotateRoot, type PausePoint } from '../../device-agent/slots';
import { DAY, makeRelease, makeRoot, releaseKeys, signedRoot, type ReleaseKey, type TestRelease } from '../helpers/firmware-fixtures';

let dir: string;
let keys: ReleaseKey[];
let root: ReturnType<typeof makeRoot>;
const now = () => Date.now();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'module-slots-'));
  keys = releaseKeys(3);
  root = makeRoot(keys, 2);
  openState(dir, 'im250', root.bytes);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const install = (r: TestRelease, pause?: (p: PausePoint) => Promise<void>) =>
  installRelease(dir, { manifest: r.manifestBytes, signatures: r.signatures, image: r.image }, { now, ...(pause ? { pause } : {}) });
const boot = (maxTrialBoots = 3) => planBoot(dir, { now, maxTrialBoots });

/** Installs and commits `r` as the running firmware. */
async function commit(r: TestRelease): Promise<void> {
  expect(await install(r)).toMatchObject({ ok: true });
  const { plan } = await boot();
  expect(plan).toMatchObject({ trial: true, version: r.manifest.version });
  commitTrial(dir, now());
}

describe('A/B slots', () => {
  it('boots the factory image until a release is installed, then tries it and commits it', async () => {
    const first = await boot();
    expect(first.plan).toMatchObject({ slot: null, version: '1.0.0', trial: false, boot: 1 });
    expect(parseFirmwareImage(first.plan.image)).toMatchObject({ model: 'im250', version: '1.0.0', selfTest: 'pass' });

    const r = makeRelease(
      { version: '1.1.0', securityCounter: 2, image: { params: { cycleTimeFactor: 1.2, scrapFactor: 1, controlGain: 1 } } },
      keys.slice(0, 2),
    );
    expect(await install(r)).toMatchObject({ ok: true, slot: 'a' });
    expect(readState(dir)).toMatchObject({ active: null, pending: 'a', trialBoots: 0 });
    expect(readdirSync(statePaths(dir).slot('a')).sort()).toEqual(['image.bin', 'manifest.json', 'signatures.json']);

    const trial = await boot();
    expect(trial.plan).toMatchObject({ slot: 'a', version: '1.1.0', trial: true, trialBoot: 1, boot: 2 });
    expect(readState(dir).trialBoots).toBe(1);
    commitTrial(dir, now());
    expect(readState(dir)).toMatchObject({
      active: 'a',
      pending: null,
      trialBoots: 0,
      committed: { version: '1.1.0', securityCounter: 2 },
    });
    const after = await boot();
    expect(after.plan).toMatchObject({ slot: 'a', version: '1.1.0', trial: false });
    expect(parseFirmwareImage(after.plan.image).params.cycleTimeFactor).toBe(1.2);

    // The next release goes to the other slot; the committed one stays untouched.
    expect(await install(makeRelease({ version: '1.2.0', securityCounter: 2 }, keys.slice(1)))).toMatchObject({ ok: true, slot: 'b' });
    expect(readState(dir)).toMatchObject({ active: 'a', pending: 'b' });
  });

  it('falls back to the committed slot when a trial fails, and records why', async () => {
    await commit(makeRelease({ version: '1.1.0' }, keys));
    await install(makeRelease({ version: '1.2.0', image: { selfTest: 'fail' } }, keys));
    expect((await boot()).plan).toMatchObject({ slot: 'b', trial: true });
    const e = rollBack(dir, 'b', 'self_test_failed', 'the self-test of 1.2.0 failed', now());
    expect(e).toMatchObject({ from: { slot: 'b', version: '1.2.0' }, to: { slot: 'a', version: '1.1.0' }, reason: 'self_test_failed' });
    expect(readState(dir)).toMatchObject({ active: 'a', pending: null, committed: { version: '1.1.0' } });
    expect(readState(dir).rollbacks).toHaveLength(1);
    expect((await boot()).plan).toMatchObject({ slot: 'a', version: '1.1.0', trial: false });
  });

  it('gives a trial up after it booted more than maxTrialBoots times without committing', async () => {
    await commit(makeRelease({ version: '1.1.0' }, keys));
    await install(makeRelease({ version: '1.2.0', image: { selfTest: 'crash' } }, keys));
    for (let i = 1; i <= 3; i++) expect((await boot(3)).plan).toMatchObject({ slot: 'b', trial: true, trialBoot: i });
    const fourth = await boot(3);
    expect(fourth.plan).toMatchObject({ slot: 'a', version: '1.1.0', trial: false });
    expect(fourth.events).toEqual([
      expect.objectContaining({ reason: 'boot_limit', from: { slot: 'b', version: '1.2.0' }, to: { slot: 'a', version: '1.1.0' } }),
    ]);
    expect(readState(dir)).toMatchObject({ pending: null, active: 'a', trialBoots: 0 });
  });

  it('does not boot a slot whose image changed on disk after it was verified', async () => {
    await commit(makeRelease({ version: '1.1.0' }, keys));
    await install(makeRelease({ version: '1.2.0' }, keys));
    writeFileSync(join(statePaths(dir).slot('b'), 'image.bin'), '{"kind":"evil"}');
    const r = await boot();
    expect(r.plan).toMatchObject({ slot: 'a', trial: false });
    expect(r.events[0]).toMatchObject({ reason: 'slot_damaged' });
    // A damaged committed slot falls back to the factory image.
    writeFileSync(join(statePaths(dir).slot('a'), 'image.bin'), 'x');
    const f = await boot();
    expect(f.plan).toMatchObject({ slot: null, version: '1.0.0' });
    expect(f.events[0]).toMatchObject({ reason: 'slot_damaged', to: { slot: null, version: '1.0.0' } });
  });

  it('stopped between the install steps, the module still boots the committed slot or the whole new one', async () => {
    await commit(makeRelease({ version: '1.1.0' }, keys));
    await install(makeRelease({ version: '1.2.0' }, keys)); // pending in b
    for (const point of ['install-cleared', 'install-written'] as const) {
      const halt = (p: PausePoint) => (p === point ? Promise.reject(new Error('power lost')) : Promise.resolve());
      await expect(install(makeRelease({ version: '1.3.0' }, keys), halt)).rejects.toThrow('power lost');
      // The half-done install is not on trial; the earlier pending release was withdrawn first.
      expect(readState(dir)).toMatchObject({ active: 'a', pending: null, slots: { b: null } });
      expect((await boot()).plan).toMatchObject({ slot: 'a', version: '1.1.0', trial: false });
    }
    const halt = (p: PausePoint) => (p === 'install-pending' ? Promise.reject(new Error('power lost')) : Promise.resolve());
    await expect(install(makeRelease({ version: '1.3.0' }, keys), halt)).rejects.toThrow('power lost');
    expect((await boot()).plan).toMatchObject({ slot: 'b', version: '1.3.0', trial: true });
    expect(existsSync(statePaths(dir).slotTmp('b'))).toBe(false);
  });
});

describe('the module refuses every attack class itself (console checks bypassed)', () => {
  beforeEach(async () => {
    await commit(makeRelease({ version: '1.1.0', securityCounter: 5 }, keys));
  });

  async function refused(r: TestRelease, code: string): Promise<void> {
    const before = readState(dir);
    const res = await install(r);
    expect(res.ok ? 'installed' : res.code, res.ok ? '' : res.message).toBe(code);
    expect(readState(dir)).toEqual(before);
    expect(existsSync(statePaths(dir).slot('b'))).toBe(false);
    expect((await boot()).plan).toMatchObject({ slot: 'a', version: '1.1.0', trial: false });
  }

  it('bad signature: a signature altered, or made for another manifest', async () => {
    const r = makeRelease({ version: '1.2.0', securityCounter: 5 }, keys.slice(0, 2));
    const altered = r.signatures.map((text) => {
      const lines = text.split('\n');
      const sig = Buffer.from(lines[1]!, 'base64');
      sig[20]! ^= 1;
      lines[1] = sig.toString('base64');
      return lines.join('\n');
    });
    await refused({ ...r, signatures: altered }, 'bad_signature');
    // One good signature of the two needed: not enough.
    await refused({ ...r, signatures: [altered[0]!, r.signatures[1]!] }, 'below_threshold');
    const other = makeRelease({ version: '1.2.1', securityCounter: 5 }, keys.slice(0, 2));
    await refused({ ...r, signatures: other.signatures }, 'bad_signature');
  });

  it('unknown keys, k−1 signatures, and a key removed by a root rotation', async () => {
    const strangers = releaseKeys(2, 'stranger');
    await refused(makeRelease({ version: '1.2.0', securityCounter: 5 }, strangers), 'unknown_key');
    await refused(makeRelease({ version: '1.2.0', securityCounter: 5 }, keys.slice(0, 1)), 'below_threshold');
    // The same signature twice counts once.
    const one = makeRelease({ version: '1.2.0', securityCounter: 5 }, keys.slice(0, 1));
    await refused({ ...one, signatures: [one.signatures[0]!, one.signatures[0]!] }, 'below_threshold');

    const fresh = releaseKeys(1, 'fresh');
    const next = makeRoot([keys[1]!, keys[2]!, fresh[0]!], 2, 2);
    expect(rotateRoot(dir, signedRoot(next, [keys[0]!]))).toMatchObject({ ok: false, code: 'below_threshold' });
    expect(rotateRoot(dir, signedRoot(next, [keys[0]!, keys[1]!, keys[2]!]))).toMatchObject({ ok: true, version: 2 });
    await refused(makeRelease({ version: '1.2.0', securityCounter: 5 }, [keys[0]!, keys[1]!]), 'below_threshold');
    expect(await install(makeRelease({ version: '1.2.0', securityCounter: 5 }, [keys[1]!, fresh[0]!]))).toMatchObject({ ok: true });
  });

  it('rollback of the version or the security counter', async () => {
    await refused(makeRelease({ version: '1.0.9', securityCounter: 5 }, keys), 'version_rollback');
    await refused(makeRelease({ version: '1.2.0', securityCounter: 4 }, keys), 'counter_rollback');
    // The committed version again, but with another image, is not a reinstall.
    await refused(makeRelease({ version: '1.1.0', securityCounter: 5, image: { notes: 'other' } }, keys), 'version_reissued');
  });

  it('expired, not yet valid, and for another model', async () => {
    const old = Date.now() - 40 * DAY;
    await refused(makeRelease({ version: '1.2.0', securityCounter: 5, created: old, expires: old + 30 * DAY }, keys), 'expired');
    await refused(makeRelease({ version: '1.2.0', securityCounter: 5, created: Date.now() + DAY }, keys), 'not_yet_valid');
    await refused(makeRelease({ version: '1.2.0', securityCounter: 5, models: ['hp200'], image: { model: 'hp200' } }, keys), 'wrong_model');
  });

  it('an image longer than the manifest says, and the image of another manifest', async () => {
    const r = makeRelease({ version: '1.2.0', securityCounter: 5 }, keys);
    const longer = new Uint8Array([...r.image, 0x20]);
    await refused({ ...r, image: longer }, 'image_too_large');
    const other = makeRelease({ version: '1.2.1', securityCounter: 5 }, keys);
    expect(other.image.byteLength).toBe(r.image.byteLength);
    await refused({ ...r, image: other.image }, 'image_mismatch');
    await refused({ ...r, image: r.image.slice(0, -1) }, 'image_mismatch');
  });
});

describe('the pinned root and the state directory', () => {
  it('refuses a different root at start, keeps a newer pinned one over the manufacture file', () => {
    const other = makeRoot(releaseKeys(3, 'other'), 2);
    expect(() => openState(dir, 'im250', other.bytes)).toThrow(/pins root v1; --root \(v1\) differs/);
    expect(openState(dir, 'im250', root.bytes).created).toBe(false);
    const next = makeRoot(keys, 3, 2);
    expect(rotateRoot(dir, signedRoot(next, keys))).toMatchObject({ ok: true, version: 2 });
    expect(openState(dir, 'im250', root.bytes).note).toMatch(/newer than --root v1: keeping v2/);
    // An old root replayed as a rotation is refused.
    expect(rotateRoot(dir, signedRoot(root, keys))).toMatchObject({ ok: false, code: 'root_rollback' });
    expect(() => openState(dir, 'hp200', null)).toThrow(/model im250, not hp200/);
    const empty = mkdtempSync(join(tmpdir(), 'module-empty-'));
    try {
      expect(() => openState(empty, 'im250', null)).toThrow(/give the root of trust to pin with --root FILE/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('one process at a time: a live holder is refused, a dead one taken over', () => {
    const release = lockState(dir);
    expect(() => lockState(dir)).toThrow(ConsoleError);
    release();
    writeFileSync(statePaths(dir).lock, '999999999');
    const again = lockState(dir);
    again();
    expect(existsSync(statePaths(dir).lock)).toBe(false);
  });
});
