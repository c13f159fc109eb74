/**
 * Firmware import on the console (src-main/modules/library.ts, releases.ts): every refusal
 * with its code, kept in the refused list and audited, never installable; a good bundle from a
 * file or the downlink becomes a release; approval checks the release again per module; the
 * pinned root changes only by a verified rotation.
 */
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { FirmwareRefusalCode } from '../../src-preload/contract';
import { firmwareDownlinkHandler } from '../../src-main/modules/downlink';
import { pinRoot } from '../../src-main/modules/root';
import { ConsoleError } from '../../src-main/core/errors';
import { bundleOf, DAY, makeRelease, makeRoot, releaseKeys, signedRoot, type ReleaseOptions } from '../helpers/firmware-fixtures';
import { MAINT, moduleWorld, type World } from './modules-fixtures';

let w: World;
afterEach(() => w?.close());

function importOf(bytes: Uint8Array, fileName = 'release.pcfw') {
  return w.manager.importBundle(MAINT, { fileName, dataBase64: Buffer.from(bytes).toString('base64') });
}

async function refusedWith(bytes: Uint8Array, code: FirmwareRefusalCode, text: RegExp): Promise<void> {
  const before = w.manager.state(MAINT).releases.length;
  const err = await importOf(bytes).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConsoleError);
  expect((err as ConsoleError).code).toBe('BAD_REQUEST');
  expect((err as ConsoleError).message).toMatch(text);
  const s = w.manager.state(MAINT);
  expect(s.releases).toHaveLength(before);
  expect(s.refused[0]).toMatchObject({ code, source: 'file', fileName: 'release.pcfw' });
  expect(w.audit.at(-1)).toMatchObject({ kind: 'firmware_refused', user: 'maria', detail: { code } });
}

const release = (o: ReleaseOptions, signers = w.keys.slice(0, 2)) => bundleOf(makeRelease(o, signers));

describe('firmware import', () => {
  it('accepts a bundle signed by k of the pinned keys and stores it as a release', async () => {
    w = moduleWorld();
    const r = await importOf(release({ version: '1.1.0', securityCounter: 2 }));
    expect(r).toMatchObject({
      version: '1.1.0',
      models: ['im250'],
      securityCounter: 2,
      signers: ['release-1', 'release-2'],
      threshold: 2,
      source: 'file',
      importedBy: 'maria',
    });
    expect(r.id).toMatch(/^fw-1\.1\.0-[0-9a-f]{12}$/);
    expect(w.manager.state(MAINT).releases.map((x) => x.id)).toEqual([r.id]);
    expect(w.audit.at(-1)).toMatchObject({
      kind: 'firmware_imported',
      detail: { release: r.id, version: '1.1.0', fileName: 'release.pcfw' },
    });
    // The stored image reads back whole and in ranges.
    const stored = w.manager.library.get(r.id)!;
    const all = Buffer.concat([...w.manager.library.read(r.id, 0, stored.info.size)]);
    expect(all.length).toBe(stored.info.size);
    expect(Buffer.concat([...w.manager.library.read(r.id, 10, 20)])).toEqual(all.subarray(10, 20));
  });

  it('refuses each attack with its code, and keeps nothing installable of it', async () => {
    w = moduleWorld();
    const stranger = releaseKeys(2, 'stranger');
    await refusedWith(Buffer.from('not a bundle at all'), 'malformed', /Not a valid firmware bundle/);
    await refusedWith(release({ version: '1.1.0' }, stranger), 'unknown_key', /not a key of this root/);
    await refusedWith(release({ version: '1.1.0' }, w.keys.slice(0, 1)), 'below_threshold', /signed by 1 of the 2 keys/);
    const a = makeRelease({ version: '1.1.0' }, w.keys.slice(0, 2));
    const b = makeRelease({ version: '1.1.1' }, w.keys.slice(0, 2));
    await refusedWith(bundleOf({ ...a, signatures: b.signatures }), 'bad_signature', /does not match|another document/);
    await refusedWith(release({ version: '1.1.0', created: Date.now() - 40 * DAY, expires: Date.now() - DAY }), 'expired', /expired at/);
    await refusedWith(
      release({ version: '1.1.0', models: ['hp200'], image: { model: 'hp200' } }),
      'wrong_model',
      /for hp200; this console manages modules of im250/,
    );
    await refusedWith(bundleOf({ ...a, image: b.image }), 'image_mismatch', /BLAKE2b-512|bytes; its manifest announces/);
    const short = makeRelease({ version: '1.1.0', imageEntry: { size: 10 } }, w.keys.slice(0, 2));
    await refusedWith(bundleOf(short), 'image_too_large', /longer than the 10 bytes/);
    expect(w.manager.state(MAINT).releases).toEqual([]);
    expect(w.manager.state(MAINT).refused).toHaveLength(8);
  });

  it('refuses a duplicate and a version reissued with another image', async () => {
    w = moduleWorld();
    const bytes = release({ version: '1.1.0' });
    await importOf(bytes);
    await refusedWith(bytes, 'duplicate', /imported already/);
    await refusedWith(
      release({ version: '1.1.0', image: { notes: 'another build' } }),
      'version_reissued',
      /^Refused: This version exists already with another image: .* Firmware 1\.1\.0 is held already \(fw-1\.1\.0-[0-9a-f]{12}\), with another image/,
    );
  });

  it('refuses a version or security counter lower than every module of the model runs', async () => {
    w = moduleWorld();
    await w.pair('mod-1');
    const current = await importOf(release({ version: '1.3.0', securityCounter: 5 }));
    w.beat('mod-1', { firmware: { version: '1.3.0', blake2b512: current.imageHash, slot: 'a', state: 'committed', trialBoot: 0 } });
    await refusedWith(release({ version: '1.2.0', securityCounter: 5 }), 'version_rollback', /older than the installed 1\.3\.0/);
    await refusedWith(
      release({ version: '1.4.0', securityCounter: 4 }),
      'counter_rollback',
      /security counter 4, lower than the installed 5/,
    );
    // Useful for one module of the model: accepted (approval checks each module again).
    await w.pair('mod-2');
    w.beat('mod-2');
    const older = await importOf(release({ version: '1.2.0', securityCounter: 5 }));
    await expect(w.manager.approve(MAINT, { releaseId: older.id, moduleIds: ['mod-1'] })).rejects.toThrow(
      /cannot go on module mod-1: .*older than the installed 1\.3\.0/,
    );
    const ro = await w.manager.approve(MAINT, { releaseId: older.id, moduleIds: ['mod-2'] });
    expect(ro).toMatchObject({ releaseId: older.id, version: '1.2.0', moduleIds: ['mod-2'], approvedBy: 'maria' });
    expect(w.audit.at(-1)).toMatchObject({ kind: 'firmware_approved', detail: { rollout: ro.id, modules: ['mod-2'] } });
  });

  it('approves only paired modules that reported, and asks the PIN gate', async () => {
    const asked: (string | undefined)[] = [];
    w = moduleWorld();
    (w.manager as unknown as { o: { confirm: (c: unknown, pin: string | undefined) => Promise<void> } }).o.confirm = async (_c, pin) => {
      asked.push(pin);
      if (pin !== '2580') throw new ConsoleError('BAD_PIN', 'Wrong PIN');
    };
    const r = await importOf(release({ version: '1.1.0' }));
    await expect(w.manager.approve(MAINT, { releaseId: r.id, moduleIds: ['mod-1'] })).rejects.toThrow(/mod-1 is not paired/);
    await w.pair('mod-1').catch(() => undefined);
    expect(w.manager.registry.get('mod-1')!.pairing).toBe('pending');
    await w.manager.pair(MAINT, { moduleId: 'mod-1', approve: true, pin: '2580' });
    await expect(w.manager.approve(MAINT, { releaseId: r.id, moduleIds: ['mod-1'] })).rejects.toThrow(/has not reported/);
    w.beat('mod-1');
    await expect(w.manager.approve(MAINT, { releaseId: r.id, moduleIds: ['mod-1'], pin: '1111' })).rejects.toThrow(/Wrong PIN/);
    expect(w.manager.state(MAINT).rollouts).toEqual([]);
    w.pollers.get('im-1')!.emit(w.clock.t, 0);
    await w.manager.approve(MAINT, { releaseId: r.id, moduleIds: ['mod-1'], pin: '2580' });
    expect(asked).toEqual([undefined, '2580', '1111', '2580']);
    expect(w.manager.state(MAINT).modules[0]!.update.state).toBe('downloading');
  });

  it('takes bundles from the downlink: imported, refused with its reason, a repeat is a duplicate', () => {
    w = moduleWorld();
    const handle = firmwareDownlinkHandler(w.manager);
    const bytes = release({ version: '1.1.0' });
    const ok = handle(
      { v: 1, type: 'firmware', id: 'rel-42', bundle: Buffer.from(bytes).toString('base64') },
      { payload: new Uint8Array(), supplierKeys: new Map() },
    );
    expect(ok).toMatchObject({ verdict: 'accepted', detail: expect.stringMatching(/firmware 1\.1\.0 imported as fw-1\.1\.0-/) as unknown });
    expect(w.manager.state(MAINT).releases[0]).toMatchObject({ source: 'downlink', importedBy: 'downlink' });
    const again = handle(
      { v: 1, type: 'firmware', id: 'rel-42', bundle: Buffer.from(bytes).toString('base64') },
      { payload: new Uint8Array(), supplierKeys: new Map() },
    );
    expect(again.verdict).toBe('duplicate');
    const forged = handle(
      { v: 1, type: 'firmware', id: 'rel-43', bundle: Buffer.from(release({ version: '1.2.0' }, releaseKeys(2, 'x'))).toString('base64') },
      { payload: new Uint8Array(), supplierKeys: new Map() },
    );
    expect(forged).toMatchObject({ verdict: 'refused', detail: expect.stringMatching(/^unknown_key:/) as unknown });
    expect(w.manager.state(MAINT).refused[0]).toMatchObject({ ref: 'rel-43', source: 'downlink', code: 'unknown_key', fileName: null });
    expect(handle({ v: 1, type: 'firmware', id: 'x', bundle: '***' }, { payload: new Uint8Array(), supplierKeys: new Map() }).verdict).toBe(
      'refused',
    );
  });
});

describe('the pinned firmware root', () => {
  it('is pinned at the first start, and a different file is refused unless it is a verified rotation', () => {
    w = moduleWorld();
    expect(w.audit[0]).toMatchObject({ kind: 'firmware_root', detail: { version: 1, threshold: 2, source: 'provisioning' } });
    // Another root of version 2 written over the file, without signatures: refused, v1 stays.
    const next = makeRoot([...w.keys.slice(1), ...releaseKeys(1, 'new')], 2, 2);
    writeFileSync(w.rootFile, next.bytes);
    const refused = pinRoot({
      store: w.store,
      file: w.rootFile,
      audit: { record: (e) => void w.audit.push(e) },
      log: w.log,
      now: Date.now(),
    });
    expect(refused.root.version).toBe(1);
    expect(w.audit.at(-1)).toMatchObject({ kind: 'firmware_refused', detail: { what: 'root', code: 'unsigned_root' } });
    expect(w.log.lines.some((l) => l.level === 'error' && /differs from the pinned root v1 and was refused/.test(l.msg))).toBe(true);
    // Signed by one old key only: refused.
    const one = signedRoot(next, [w.keys[0]!]);
    writeFileSync(`${w.rootFile}.1.minisig`, one.signatures[0]!);
    expect(pinRoot({ store: w.store, file: w.rootFile, log: w.log, now: Date.now() }).root.version).toBe(1);
    // k old keys and k of its own: accepted, and the store holds it from now on.
    const sigs = signedRoot(next, [w.keys[1]!, w.keys[2]!]).signatures;
    sigs.forEach((s, i) => writeFileSync(`${w.rootFile}.${i + 1}.minisig`, s));
    const rotated = pinRoot({
      store: w.store,
      file: w.rootFile,
      audit: { record: (e) => void w.audit.push(e) },
      log: w.log,
      now: Date.now(),
    });
    expect(rotated.root.version).toBe(2);
    expect(rotated.rotation?.signatures).toHaveLength(2);
    expect(w.store.root()!.version).toBe(2);
    expect(w.audit.at(-1)).toMatchObject({ kind: 'firmware_root', detail: { version: 2, source: 'rotation', from: 1 } });
  });
});
