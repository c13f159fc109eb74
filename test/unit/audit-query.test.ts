/** audit.query through ConsoleApi.handle: filters, paging, point names, and who may read the log. */
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { ConsoleApi } from '../../src-main/api/service';
import { AuditLog } from '../../src-main/audit/log';
import { resolveConfig } from '../../src-main/config/load';
import { PlantCore } from '../../src-main/core/plant';
import type { Poller } from '../../src-main/core/types';
import { signingKeyPair } from '../../src-main/protocol/keys';
import { migrate } from '../../src-main/store/schema';
import { AUDIT_ROLES } from '../../src-renderer/src/stores/audit';
import { COMMANDS, type AuditPage, type Caller, type Link, type Result } from '../../src-preload/contract';

const T0 = Date.UTC(2026, 0, 12, 9, 0);
const MAINT: Caller = { user: 'mia', role: 'maintenance', origin: 'local' };
const ADMIN: Caller = { user: 'ada', role: 'admin', origin: 'remote' };

const idlePoller = (): Poller => ({
  start() {},
  async stop() {},
  onResult: () => () => undefined,
  link: (): Link => ({
    state: 'connecting',
    since: T0,
    lastOkAt: null,
    lastError: null,
    consecutiveFailures: 0,
    pollsOk: 0,
    pollsFailed: 0,
    lastPollMs: null,
  }),
  async write() {},
  async readPoint() {
    throw new Error('not read in this test');
  },
});

function setup() {
  const db = new Database(':memory:');
  migrate(db);
  const audit = new AuditLog(db, { signing: signingKeyPair() }, { clock: { now: () => T0 }, timers: false });
  const config = resolveConfig(
    {
      plant: { name: 'Audit', timezone: 'UTC' },
      devices: [{ id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 } }],
    },
    'audit.json',
  );
  const core = new PlantCore({ config, clock: { now: () => T0 }, pollerFactory: idlePoller, audit });
  audit.append({
    kind: 'login',
    user: 'mia',
    role: 'maintenance',
    origin: 'local',
    sessionId: 's-1',
    at: T0 - 3_600_000,
    detail: { source: 'local' },
  });
  audit.append({
    kind: 'login_failed',
    user: 'otto',
    origin: 'remote',
    at: T0 - 1_800_000,
    detail: { reason: 'bad-password', failures: 1 },
  });
  audit.append({
    kind: 'write',
    user: 'mia',
    role: 'maintenance',
    origin: 'local',
    machineId: 'im-1',
    at: T0 - 600_000,
    detail: { pointId: 'zone1-sp', before: 215, requested: 216, readback: 216, unit: '°C', outcome: 'written', code: null, reason: null },
  });
  audit.append({
    kind: 'alarm_ack',
    user: 'otto',
    role: 'operator',
    origin: 'local',
    machineId: 'im-1',
    at: T0 - 60_000,
    detail: { alarmId: 'im-1/fault' },
  });
  return { audit, api: new ConsoleApi(core, { audit }), bare: new ConsoleApi(core) };
}

async function page(api: ConsoleApi, caller: Caller, request: unknown): Promise<AuditPage> {
  const r = (await api.handle(caller, 'audit.query', request)) as Result<AuditPage>;
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return COMMANDS['audit.query'].response.parse(r.value);
}

describe('audit.query', () => {
  it('answers newest first, without prevHash, with the names of the points the records mention', async () => {
    const { api } = setup();
    const all = await page(api, MAINT, {});
    expect(all.records.map((r) => r.kind)).toEqual(['alarm_ack', 'write', 'login_failed', 'login']);
    expect(all.records[0]).not.toHaveProperty('prevHash');
    expect(all.records[1]).toMatchObject({
      seq: 3,
      user: 'mia',
      role: 'maintenance',
      machineId: 'im-1',
      detail: { before: 215, readback: 216 },
    });
    expect(all.nextBeforeSeq).toBeNull();
    expect(all.points['im-1/zone1-sp']).toMatchObject({ unit: '°C', decimals: 1 });
    expect(all.points['im-1/zone1-sp']?.name).toMatch(/Zone 1/);
  });

  it('filters by kinds, user, machine and time, and pages with beforeSeq', async () => {
    const { api } = setup();
    expect((await page(api, ADMIN, { kinds: ['write', 'login_failed'] })).records.map((r) => r.seq)).toEqual([3, 2]);
    expect((await page(api, ADMIN, { user: 'otto' })).records.map((r) => r.kind)).toEqual(['alarm_ack', 'login_failed']);
    expect((await page(api, ADMIN, { machineId: 'im-1' })).records.map((r) => r.seq)).toEqual([4, 3]);
    expect((await page(api, ADMIN, { from: T0 - 2_000_000, to: T0 - 100_000 })).records.map((r) => r.seq)).toEqual([3, 2]);
    const first = await page(api, ADMIN, { limit: 3 });
    expect(first.records.map((r) => r.seq)).toEqual([4, 3, 2]);
    expect(first.nextBeforeSeq).toBe(2);
    const older = await page(api, ADMIN, { limit: 3, beforeSeq: 2 });
    expect(older.records.map((r) => r.seq)).toEqual([1]);
    expect(older.nextBeforeSeq).toBeNull();
  });

  it('refuses operators and supplier support, bad requests, and answers UNAVAILABLE without a log', async () => {
    const { api, bare } = setup();
    for (const role of ['operator', 'supplier-support'] as const) {
      expect(await api.handle({ user: 'x', role, origin: 'local' }, 'audit.query', {})).toMatchObject({
        ok: false,
        error: { code: 'FORBIDDEN', message: `Role "${role}" may not call audit.query` },
      });
    }
    expect(await api.handle(MAINT, 'audit.query', { kinds: ['nonsense'] })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await api.handle(MAINT, 'audit.query', { limit: 501 })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await api.handle(MAINT, 'audit.query', { prevHash: 'x' })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await bare.handle(MAINT, 'audit.query', {})).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
  });

  it('the page hides its nav button from exactly the roles the contract refuses', () => {
    expect(AUDIT_ROLES).toEqual(COMMANDS['audit.query'].roles);
  });
});
