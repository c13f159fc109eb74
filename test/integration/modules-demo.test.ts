/**
 * The SIMULATED demo plant carries IoT modules: started by bootstrap without a config, each
 * machine's module-mode device agent asks to be paired over the module channel, the demo's
 * signed release waits in the data dir, and the modules.* commands answer through the API with
 * what the contract says. A second start on the same data dir keeps pairing and releases.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startPlant, type RunningPlant } from '../../src-main/app/bootstrap';
import { consoleLogger } from '../../src-main/core/log';
import { LOCAL_VIEWER } from '../../src-main/api/service';
import { ModulesStateSchema, type Caller } from '../../src-preload/contract';

const MAINT: Caller = { user: 'maria', role: 'maintenance', origin: 'local' };
const dir = mkdtempSync(join(tmpdir(), 'pc-modules-demo-'));
let plant: RunningPlant | null = null;

async function until<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

afterAll(async () => {
  await plant?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the demo plant’s IoT modules', () => {
  it('ask to be paired, get paired, report, and raise an alarm when an enclosure opens', async () => {
    plant = await startPlant({ dataDir: dir, log: consoleLogger('error') });
    const m = plant.modules!;
    expect(m).not.toBeNull();
    expect(plant.config.modules?.assignments.map((a) => a.machineId)).toEqual(['im-1', 'press-2', 'pack-3']);
    const bundle = join(dir, 'demo-firmware', 'im250-1.1.0.pcfw');
    expect(existsSync(bundle)).toBe(true);
    await until('three pairing requests', () => m.manager.state(MAINT).modules.filter((x) => x.pairing === 'pending').length === 3);
    for (const id of ['mod-im-1', 'mod-press-2', 'mod-pack-3']) await m.manager.pair(MAINT, { moduleId: id, approve: true });
    await until('heartbeats of the paired modules', () => m.manager.state(MAINT).modules.every((x) => x.lastHeartbeatAt !== null), 20_000);
    const r = await plant.api.handle(LOCAL_VIEWER, 'modules.list', {});
    expect(r.ok).toBe(true);
    const state = ModulesStateSchema.parse((r as { value: unknown }).value);
    expect(state.modules.map((x) => [x.id, x.machineId, x.model, x.version, x.health])).toEqual([
      ['mod-im-1', 'im-1', 'im250', '1.0.0', 'ok'],
      ['mod-pack-3', 'pack-3', 'pk60', '1.0.0', 'ok'],
      ['mod-press-2', 'press-2', 'hp200', '1.0.0', 'ok'],
    ]);
    expect(state.root).toMatchObject({ version: 1, threshold: 2, keys: ['demo-release-1', 'demo-release-2', 'demo-release-3'] });
    expect(state.maintenanceWindow.openNow).toBe(true);
    // The demo release imports as a visitor would, from the file the demo left in the data dir.
    const { readFileSync } = await import('node:fs');
    const rel = await m.manager.importBundle(MAINT, { fileName: 'im250-1.1.0.pcfw', dataBase64: readFileSync(bundle).toString('base64') });
    expect(rel).toMatchObject({ version: '1.1.0', models: ['im250'], signers: ['demo-release-1', 'demo-release-2'] });
    writeFileSync(join(dir, 'demo-modules', 'press-2.tamper'), '');
    const alarm = await until(
      'the tamper alarm on press-2',
      () => plant!.core.alarms.alarms('press-2').find((a) => a.kind === 'module'),
      15_000,
    );
    expect(alarm.message).toMatch(/^Module mod-press-2: Enclosure opened/);
    const alarms = await plant.api.handle(LOCAL_VIEWER, 'alarms.list', {});
    expect(JSON.stringify(alarms)).toContain('mod-press-2');
  }, 90_000);

  it('keeps pairings and releases across a restart', async () => {
    await plant!.stop();
    plant = await startPlant({ dataDir: dir, log: consoleLogger('error') });
    const s = plant.modules!.manager.state(MAINT);
    expect(s.modules.map((x) => x.pairing)).toEqual(['paired', 'paired', 'paired']);
    expect(s.releases.map((x) => x.version)).toEqual(['1.1.0']);
    await until(
      'heartbeats after the restart',
      () => plant!.modules!.manager.state(MAINT).modules.every((x) => x.health !== 'unknown'),
      20_000,
    );
  }, 90_000);
});
