/**
 * A configured plant restarted on the same data dir (the real encrypted store, startPlant as
 * `serve` and the Electron app run it): the first start asks for an admin account and records
 * `config_loaded`; a remote support grant comes back after the restart with its banner (live,
 * nobody in it, its sign-in ended and audited), an unused join code still works until its
 * expiry, a used one does not; the configuration edited between the starts is audited as
 * `config_changed` per machine and `classification_changed` per point; the chain verifies.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPlant, type RunningPlant } from '../../src-main/app/bootstrap';
import { verifyAudit } from '../../src-main/audit/log';
import { memoryLogger } from '../../src-main/core/log';
import type { Caller } from '../../src-preload/contract';

const ROOT = join(import.meta.dirname, '../..');
const PASS = 'restart trust test passphrase';
const MAINT: Caller = { user: 'maint', role: 'maintenance', origin: 'local' } as Caller;
const PW = 'a long enough password';

const dir = mkdtempSync(join(tmpdir(), 'pc-restart-trust-'));
const dataDir = join(dir, 'data');
const configFile = join(dir, 'plant.json');
let savedPass: string | undefined;
let plant: RunningPlant | null = null;

/** The plant's config; the moulder's profile is a copy of the built-in one, edited by `edit`. */
function writeConfig(writes: boolean, edit: (profile: { points: Record<string, unknown>[] }) => void = () => {}): void {
  const profile = JSON.parse(readFileSync(join(ROOT, 'profiles/im250.json'), 'utf8')) as { points: Record<string, unknown>[] };
  edit(profile);
  writeFileSync(join(dir, 'moulder.profile.json'), JSON.stringify(profile));
  copyFileSync(join(ROOT, 'profiles/pk60.json'), join(dir, 'packer.profile.json'));
  // Nothing listens on these ports: the machines stay offline, which this test does not mind.
  writeFileSync(
    configFile,
    JSON.stringify({
      plant: { name: 'Restart plant', timezone: 'UTC' },
      writes: { enabled: writes },
      devices: [
        { id: 'im-1', name: 'Moulder 1', profile: 'moulder.profile.json', transport: { type: 'tcp', host: '127.0.0.1', port: 9 } },
        { id: 'pk-2', name: 'Packer 2', profile: 'packer.profile.json', transport: { type: 'tcp', host: '127.0.0.1', port: 9 }, unitId: 2 },
      ],
    }),
  );
}

beforeAll(() => {
  savedPass = process.env.PLANT_CONSOLE_PASSPHRASE;
  process.env.PLANT_CONSOLE_PASSPHRASE = PASS;
});
afterEach(async () => {
  await plant?.stop();
  plant = null;
});
afterAll(() => {
  if (savedPass === undefined) delete process.env.PLANT_CONSOLE_PASSPHRASE;
  else process.env.PLANT_CONSOLE_PASSPHRASE = savedPass;
  rmSync(dir, { recursive: true, force: true });
});

describe('a configured plant over a restart', () => {
  it('keeps the site’s consent but not the supplier’s sign-in, and audits what changed in its configuration', async () => {
    writeConfig(false);
    plant = await startPlant({ configPath: configFile, dataDir, log: memoryLogger() });
    const p1 = plant;

    // First start: no admin yet; the configuration is recorded once.
    expect(p1.setup?.needed()).toBe(true);
    const loaded = p1.audit.query({ kind: ['config_loaded'] });
    expect(loaded).toHaveLength(1);
    expect(loaded[0]!.detail).toMatchObject({ machines: ['im-1', 'pk-2'], writesEnabled: false, uplink: false });
    const admin = await p1.setup!.create({ name: 'anna', password: PW }, { origin: 'local' }, { via: 'window' });
    expect(admin.role).toBe('admin');
    expect(p1.setup!.needed()).toBe(false);

    await p1.accounts.add({ name: 'support', role: 'supplier-support', password: PW });
    await p1.accounts.add({ name: 'support2', role: 'supplier-support', password: PW });
    const live = p1.remote.support.grant(MAINT, { account: 'support', scope: 'view', durationMin: 60 });
    const login = await p1.auth.login('support', PW, { key: '10.9.8.7', origin: 'remote' });
    if (!login.ok) throw new Error(login.message);
    expect(p1.remote.support.join(login.session, live.joinCode, '10.9.8.7')).toMatchObject({ ok: true });
    const waiting = p1.remote.support.grant(MAINT, { account: 'support2', scope: 'propose', durationMin: 30 });
    const endsAt = p1.remote.support.get(live.grant.id)!.endsAt;
    await p1.stop();
    plant = null;

    // Between the starts someone edits the file: writes on, a higher limit, a class changed.
    writeConfig(true, (profile) => {
      const sp = profile.points.find((x) => x.id === 'zone2-sp')!;
      (sp.writable as { max: number }).max = 260;
      profile.points.find((x) => x.id === 'zone1')!.sensitivity = 'plain';
    });
    const log2 = memoryLogger();
    plant = await startPlant({ configPath: configFile, dataDir, log: log2 });
    const p2 = plant;
    expect(p2.setup?.needed()).toBe(false);

    // The grant is back, live (its banner shows on site), with its end time, and nobody is in it.
    expect(p2.remote.support.get(live.grant.id)).toMatchObject({ state: 'live', sessionId: null, endsAt });
    expect(p2.auth.get(login.session.id)).toBeNull();
    const cut = p2.audit.query({ kind: ['remote_action'] }).filter((r) => r.detail.action === 'interrupted');
    expect(cut.map((r) => r.sessionId)).toEqual([login.session.id]);
    expect(p2.audit.query({ sessionId: login.session.id, kind: ['logout'] })[0]?.detail.reason).toBe('shutdown');
    // The used code stays used; the unused one still works.
    const again = await p2.auth.login('support', PW, { key: '10.9.8.7', origin: 'remote' });
    if (!again.ok) throw new Error(again.message);
    expect(p2.remote.support.join(again.session, live.joinCode, '10.9.8.7')).toMatchObject({ ok: false, code: 'NO_GRANT' });
    const other = await p2.auth.login('support2', PW, { key: '10.9.8.6', origin: 'remote' });
    if (!other.ok) throw new Error(other.message);
    expect(p2.remote.support.join(other.session, waiting.joinCode, '10.9.8.6')).toMatchObject({
      ok: true,
      grant: { id: waiting.grant.id, state: 'live' },
    });

    // What changed in the configuration, by machine and point.
    const changed = p2.audit.query({ kind: ['config_changed'] });
    expect(changed.map((r) => [r.machineId, r.detail.changes])).toEqual(
      expect.arrayContaining([
        [null, ['writes.enabled: false → true']],
        ['im-1', ['devices[im-1].points.zone1.sensitivity: sealed → plain', 'devices[im-1].points.zone2-sp.writable.max: 240 → 260']],
      ]),
    );
    expect(changed).toHaveLength(2);
    const cls = p2.audit.query({ kind: ['classification_changed'], machineId: 'im-1' });
    expect(cls.map((r) => r.detail.change)).toEqual(['zone1: sealed → plain']);
    expect(p2.audit.query({ kind: ['config_loaded'] })).toHaveLength(1);
    expect(log2.lines.some((l) => l.level === 'error')).toBe(false);

    // Every record of both starts is in one unbroken, signed chain.
    const verified = verifyAudit(p2.store.db, p2.store.identity.signing.publicKey);
    expect(verified).toMatchObject({ ok: true });
  });
});
