/** What the core puts into the audit log: writes and reverts with before/after values, alarm acknowledgements, with the caller. */
import Database from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleApi } from '../../src-main/api/service';
import { AuditLog, verifyAudit } from '../../src-main/audit/log';
import { resolveConfig } from '../../src-main/config/load';
import type { ResolvedDevice } from '../../src-main/config/schema';
import { PlantCore } from '../../src-main/core/plant';
import type { ModbusWriteRequest, Poller, PollResult } from '../../src-main/core/types';
import { decode, encode } from '../../src-main/modbus/codec';
import { signingKeyPair } from '../../src-main/protocol/keys';
import { migrate } from '../../src-main/store/schema';
import type { Caller, Link, PointValue } from '../../src-preload/contract';

const T0 = Date.UTC(2026, 0, 12, 9, 0);
const ANNA = { user: 'anna', role: 'maintenance', origin: 'remote', sessionId: 'sess-7' } as Caller;
const OTTO: Caller = { user: 'otto', role: 'operator', origin: 'local' };

/** An im250 whose registers hold what was written; polls are emitted by the test. */
class Device implements Poller {
  readonly values: Record<string, number> = { state: 1, 'zone1-sp': 212 };
  private readonly handlers = new Set<(r: PollResult) => void>();
  constructor(readonly device: ResolvedDevice) {}
  start(): void {}
  async stop(): Promise<void> {}
  onResult(h: (r: PollResult) => void): () => void {
    this.handlers.add(h);
    return () => void this.handlers.delete(h);
  }
  link(): Link {
    return { state: 'online', since: T0, lastOkAt: T0, lastError: null, consecutiveFailures: 0, pollsOk: 1, pollsFailed: 0, lastPollMs: 2 };
  }
  async readPoint(pointId: string): Promise<PointValue> {
    const p = this.device.profileDef.points.find((x) => x.id === pointId)!;
    const raw = encode(p, this.values[pointId] ?? 0);
    return { value: decode(p, raw), raw, quality: 'good', ts: T0, reason: null };
  }
  async write(req: ModbusWriteRequest): Promise<void> {
    const p = this.device.profileDef.points.find((x) => x.function === 'holding' && x.address === req.address)!;
    this.values[p.id] = decode(p, req.values) as number;
  }
  emit(ts: number, given: Record<string, number> = {}): void {
    const values: Record<string, PointValue> = {};
    for (const p of this.device.profileDef.points) {
      const value = p.type === 'string' ? 'X' : p.type === 'bool' ? false : (given[p.id] ?? this.values[p.id] ?? 0);
      values[p.id] = { value, raw: [], quality: 'good', ts, reason: null };
    }
    for (const h of this.handlers) h({ deviceId: this.device.id, ts, values, link: this.link() });
  }
}

const cores: PlantCore[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

function setup() {
  const db = new Database(':memory:');
  migrate(db);
  const key = signingKeyPair();
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const audit = new AuditLog(db, { signing: key }, { clock, timers: false });
  const config = resolveConfig(
    {
      plant: { name: 'Hooks', timezone: 'UTC' },
      writes: { enabled: true },
      devices: [{ id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 } }],
    },
    'hooks.json',
  );
  let device: Device | null = null;
  const core = new PlantCore({
    config,
    clock,
    audit,
    pollerFactory: (d) => (device = new Device(d)),
  });
  core.start();
  cores.push(core);
  return { db, key, clock, audit, core, api: new ConsoleApi(core), device: () => device! };
}

describe('audit hooks', () => {
  it('records every write and revert with the caller, the session and the values before and after', async () => {
    const { api, audit, device, db, key } = setup();
    device().emit(T0);
    const written = await api.handle(ANNA, 'points.write', { machineId: 'im-1', pointId: 'zone1-sp', value: 215 });
    expect(written).toMatchObject({ ok: true, value: { outcome: 'written', before: 212, readback: 215 } });
    const refused = await api.handle(ANNA, 'points.write', { machineId: 'im-1', pointId: 'zone1-sp', value: 239 });
    expect(refused).toMatchObject({ ok: true, value: { outcome: 'refused', code: 'STEP_EXCEEDED' } });
    const writeId = written.ok ? (written.value as { id: string }).id : '';
    expect(await api.handle(ANNA, 'points.revert', { writeId })).toMatchObject({ ok: true, value: { outcome: 'written', readback: 212 } });
    // Not a write: an unknown point is an error answer, and nothing is audited for it.
    expect(await api.handle(ANNA, 'points.write', { machineId: 'im-1', pointId: 'nope', value: 1 })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });

    const records = audit.query().reverse();
    expect(records.map((r) => [r.kind, r.detail['outcome'], r.detail['before'], r.detail['requested'], r.detail['readback']])).toEqual([
      ['write', 'written', 212, 215, 215],
      ['write', 'refused', 215, 239, null],
      ['revert', 'written', 215, 212, 212],
    ]);
    expect(records[0]).toMatchObject({
      user: 'anna',
      role: 'maintenance',
      origin: 'remote',
      sessionId: 'sess-7',
      machineId: 'im-1',
      detail: { pointId: 'zone1-sp', unit: '°C', writeId },
    });
    expect(records[1]?.detail).toMatchObject({ code: 'STEP_EXCEEDED', reason: expect.stringContaining('largest allowed step') as string });
    expect(records[2]?.detail['revertOf']).toBe(writeId);
    audit.close();
    expect(verifyAudit(db, key.publicKey)).toMatchObject({ ok: true, records: 3 });
  });

  it('records each acknowledged alarm, once per alarm, with its machine and state', async () => {
    const { api, audit, device, clock } = setup();
    device().emit(T0, { state: 2 });
    clock.t += 3000;
    device().emit(clock.t, { state: 2 });
    expect(await api.handle(OTTO, 'alarms.ack', { alarmIds: ['im-1/fault', 'im-1/ghost'] })).toMatchObject({
      ok: true,
      value: { acknowledged: ['im-1/fault'], unknown: ['im-1/ghost'] },
    });
    expect(
      await api.handle({ user: 'sup', role: 'supplier-support', origin: 'remote' }, 'alarms.ack', { alarmIds: ['im-1/fault'] }),
    ).toMatchObject({ ok: false });
    expect(audit.query({ kind: 'alarm_ack' })).toEqual([
      expect.objectContaining({
        user: 'otto',
        role: 'operator',
        origin: 'local',
        sessionId: null,
        machineId: 'im-1',
        detail: {
          alarmId: 'im-1/fault',
          stateBefore: 'active-unacked',
          priority: 'high',
          message: expect.stringContaining('fault') as string,
        },
      }),
    ]);
  });
});
