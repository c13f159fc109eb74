/**
 * Config and classification changes between starts, with hand-made configurations: the
 * snapshot (canonical, keyed by id, no secrets), the readable diff lines, the audit records a
 * start writes (config_loaded, config_changed per machine, classification_changed per point),
 * and the snapshot kept in the store between starts.
 */
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../src-main/audit/log';
import {
  classificationChanges,
  configAuditEntries,
  configSnapshot,
  diffSnapshots,
  MAX_LINES_PER_RECORD,
  snapshotHash,
} from '../../src-main/config/audit-diff';
import { auditConfigAtStart } from '../../src-main/config/config-audit';
import { parseProfile, resolveConfig } from '../../src-main/config/load';
import type { PlantConfig } from '../../src-main/config/schema';
import { memoryLogger } from '../../src-main/core/log';
import { signingKeyPair } from '../../src-main/protocol/keys';
import { migrate } from '../../src-main/store/schema';
import { detailText, KIND_TEXT } from '../../src-renderer/src/stores/audit';

/** A small moulding machine profile, written by hand. */
function moulderProfile() {
  return {
    model: 'test-moulder',
    title: 'Test moulder',
    idealCycleTimeS: 20,
    points: [
      {
        id: 'state',
        name: 'State',
        function: 'holding',
        address: 0,
        type: 'uint16',
        role: 'state',
        states: { '1': 'running', '2': 'idle' },
        sensitivity: 'plain',
      },
      { id: 'zone1', name: 'Zone 1 temperature', function: 'input', address: 10, type: 'int16', scale: 0.1, unit: '°C' },
      {
        id: 'zone2-sp',
        name: 'Zone 2 setpoint',
        function: 'holding',
        address: 20,
        type: 'int16',
        unit: '°C',
        sensitivity: 'sealed',
        writable: { min: 180, max: 240, maxStep: 5 },
      },
      {
        id: 'hold-sp',
        name: 'Hold time',
        function: 'holding',
        address: 21,
        type: 'uint16',
        unit: 'ms',
        sensitivity: 'sealed',
        writable: { min: 300, max: 900, maxStep: 50 },
      },
    ],
    alarms: [{ id: 'zone1-high', kind: 'high', point: 'zone1', limit: 250, priority: 'high', message: 'Zone 1 too hot' }],
  };
}

type Profile = ReturnType<typeof moulderProfile>;

/** A plant of one or two machines on hand-made profiles; `edit` changes the raw file data first. */
function plant(
  opts: { edit?: (cfg: Record<string, unknown>) => void; profile?: (p: Profile) => void; second?: boolean } = {},
): PlantConfig {
  const data: Record<string, unknown> = {
    plant: { name: 'Audit test plant', timezone: 'UTC' },
    writes: { enabled: false },
    devices: [
      { id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '10.0.0.5', port: 502 } },
      ...(opts.second
        ? [{ id: 'im-2', name: 'Moulder 2', profile: 'builtin:im250', transport: { type: 'tcp', host: '10.0.0.6', port: 502 } }]
        : []),
    ],
  };
  opts.edit?.(data);
  const config = resolveConfig(data, '/etc/plant/plant.json');
  const p = moulderProfile();
  opts.profile?.(p);
  for (const d of config.devices) d.profileDef = parseProfile(structuredClone(p), 'test-moulder.json');
  return config;
}

const previousOf = (c: PlantConfig) => {
  const snapshot = configSnapshot(c);
  return { snapshot, hash: snapshotHash(snapshot) };
};

describe('configuration snapshot', () => {
  it('keys devices, points and alarms by id, leaves out the file path, and hashes the same config the same', () => {
    const s = configSnapshot(plant());
    expect(Object.keys(s.devices as object)).toEqual(['im-1']);
    const dev = (s.devices as Record<string, Record<string, unknown>>)['im-1']!;
    expect(Object.keys(dev.points as object)).toEqual(['state', 'zone1', 'zone2-sp', 'hold-sp']);
    expect((dev.points as Record<string, Record<string, unknown>>)['zone2-sp']!.writable).toEqual({ min: 180, max: 240, maxStep: 5 });
    expect(dev.profile).toBe('builtin:im250');
    expect(dev.model).toBe('test-moulder');
    expect(JSON.stringify(s)).not.toContain('/etc/plant');
    expect(snapshotHash(s)).toMatch(/^[0-9a-f]{64}$/);
    expect(snapshotHash(configSnapshot(plant()))).toBe(snapshotHash(s));
    expect(snapshotHash(configSnapshot(plant({ profile: (p) => (p.points[2]!.writable!.max = 241) })))).not.toBe(snapshotHash(s));
  });

  it('never keeps a member with a secret-sounding name', () => {
    const c = plant();
    (c.plant as Record<string, unknown>).password = 'hunter2-QX';
    (c.access as Record<string, unknown>).apiKey = 'sk-QX-SECRET';
    const text = JSON.stringify(configSnapshot(c));
    expect(text).not.toContain('hunter2-QX');
    expect(text).not.toContain('sk-QX-SECRET');
    expect(text).toContain('"password":"(not recorded)"');
  });
});

describe('readable differences', () => {
  it('names the path of each change with the machine it belongs to', () => {
    const before = configSnapshot(plant());
    const after = configSnapshot(
      plant({
        edit: (c) => {
          c.writes = { enabled: true };
          (c.devices as Record<string, unknown>[])[0]!.pollIntervalMs = 1000;
        },
        profile: (p) => {
          p.points[2]!.writable!.max = 260;
          (p.points[3] as Record<string, unknown>).interlock = { states: ['idle'] };
          p.alarms[0]!.limit = 245;
        },
      }),
    );
    const lines = diffSnapshots(before, after);
    expect(lines.map((l) => l.line)).toEqual([
      'devices[im-1].alarms.zone1-high.limit: 250 → 245',
      'devices[im-1].points.hold-sp.interlock: added {"states":["idle"]}',
      'devices[im-1].points.zone2-sp.writable.max: 240 → 260',
      'devices[im-1].pollIntervalMs: 500 → 1000',
      'writes.enabled: false → true',
    ]);
    expect(lines.map((l) => l.machineId)).toEqual(['im-1', 'im-1', 'im-1', 'im-1', null]);
  });

  it('says a whole machine or point was added or removed instead of listing its fields', () => {
    const before = configSnapshot(plant({ second: true }));
    const after = configSnapshot(plant({ profile: (p) => p.points.splice(3, 1) }));
    const lines = diffSnapshots(before, after).map((l) => l.line);
    expect(lines).toContain('devices[im-1].points.hold-sp: removed');
    expect(lines).toContain('devices[im-2]: removed');
    const back = diffSnapshots(after, before).map((l) => l.line);
    expect(back.find((l) => l.startsWith('devices[im-2]: added {'))).toMatch(/…$/);
  });

  it('finds every point whose sensitivity class changed, and new points that do not stay local', () => {
    const before = configSnapshot(plant());
    const after = configSnapshot(
      plant({
        profile: (p) => {
          (p.points[1] as Record<string, unknown>).sensitivity = 'sealed'; // zone1: unclassified (local) → sealed
          p.points[2]!.sensitivity = 'plain';
          p.points.push({
            id: 'energy',
            name: 'Energy',
            function: 'input',
            address: 30,
            type: 'uint16',
            unit: 'kWh',
            sensitivity: 'plain',
          } as never);
          p.points.push({ id: 'recipe', name: 'Recipe', function: 'holding', address: 31, type: 'uint16', unit: '' } as never);
        },
      }),
    );
    expect(classificationChanges(before, after)).toEqual([
      { machineId: 'im-1', pointId: 'energy', pointName: 'Energy', from: null, to: 'plain' },
      { machineId: 'im-1', pointId: 'zone1', pointName: 'Zone 1 temperature', from: 'local', to: 'sealed' },
      { machineId: 'im-1', pointId: 'zone2-sp', pointName: 'Zone 2 setpoint', from: 'sealed', to: 'plain' },
    ]);
  });
});

describe('audit entries of a start', () => {
  it('records config_loaded with the hash at the first start, nothing while unchanged', () => {
    const c = plant({ second: true });
    const first = configAuditEntries(null, configSnapshot(c), c.source);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      kind: 'config_loaded',
      detail: {
        hash: snapshotHash(configSnapshot(c)),
        machines: ['im-1', 'im-2'],
        points: 8,
        sealed: 4,
        plain: 2,
        writesEnabled: false,
        uplink: false,
      },
    });
    expect(configAuditEntries(previousOf(c), configSnapshot(plant({ second: true })), c.source)).toEqual([]);
  });

  it('writes one config_changed per machine and plant-wide, and one classification_changed per point', () => {
    const before = plant({ second: true });
    const after = plant({
      second: true,
      edit: (c) => (c.access = { remoteSessionMaxMinutes: 120 }),
      profile: (p) => ((p.points[1] as Record<string, unknown>).sensitivity = 'sealed'),
    });
    const entries = configAuditEntries(previousOf(before), configSnapshot(after), after.source);
    expect(entries.map((e) => [e.kind, e.machineId])).toEqual([
      ['config_changed', null],
      ['config_changed', 'im-1'],
      ['config_changed', 'im-2'],
      ['classification_changed', 'im-1'],
      ['classification_changed', 'im-2'],
    ]);
    expect(entries[0]!.detail).toMatchObject({ previousHash: previousOf(before).hash, hash: snapshotHash(configSnapshot(after)) });
    expect(entries[0]!.detail!.changes).toEqual(['access.remoteSessionMaxMinutes: (none) → 120']);
    expect(entries[1]!.detail!.changes).toEqual(['devices[im-1].points.zone1.sensitivity: local → sealed']);
    expect(entries[3]!.detail).toMatchObject({
      pointId: 'zone1',
      pointName: 'Zone 1 temperature',
      from: 'local',
      to: 'sealed',
      change: 'zone1: local → sealed',
    });
  });

  it('caps the lines of one record and counts the rest', () => {
    const many = (n: number) =>
      plant({
        profile: (p) => {
          for (let i = 0; i < n; i++)
            p.points.push({ id: `p${i}`, name: `P ${i}`, function: 'input', address: 100 + i, type: 'uint16', unit: '' } as never);
        },
      });
    const entries = configAuditEntries(previousOf(plant()), configSnapshot(many(MAX_LINES_PER_RECORD + 20)), 'x');
    expect(entries).toHaveLength(1);
    expect((entries[0]!.detail!.changes as string[]).length).toBe(MAX_LINES_PER_RECORD);
    expect(entries[0]!.detail!.more).toBe(20);
  });
});

describe('auditConfigAtStart on a store', () => {
  it('keeps the snapshot between starts and writes what changed to the hash-chained audit log, filterable by machine', () => {
    const db = new Database(':memory:');
    migrate(db);
    const audit = new AuditLog(db, { signing: signingKeyPair() }, { timers: false });
    const log = memoryLogger();
    const first = auditConfigAtStart(db, audit, plant(), { log });
    expect(first).toMatchObject({ previousHash: null, recorded: 1 });
    expect(auditConfigAtStart(db, audit, plant(), { log })).toMatchObject({ previousHash: first.hash, hash: first.hash, recorded: 0 });

    const changed = plant({ profile: (p) => (p.points[2]!.writable!.max = 260) });
    const second = auditConfigAtStart(db, audit, changed, { log });
    expect(second).toMatchObject({ previousHash: first.hash, recorded: 1 });
    expect(second.hash).not.toBe(first.hash);
    const rows = audit.query({ machineId: 'im-1' });
    expect(rows.map((r) => r.kind)).toEqual(['config_changed']);
    expect(rows[0]!.detail.changes).toEqual(['devices[im-1].points.zone2-sp.writable.max: 240 → 260']);
    expect(audit.query({ kind: ['config_loaded'] })).toHaveLength(1);
    const stored = db.prepare('SELECT hash, snapshot FROM config_snapshot').all() as { hash: string; snapshot: string }[];
    expect(stored).toHaveLength(1);
    expect(stored[0]!.hash).toBe(second.hash);
    expect(JSON.parse(stored[0]!.snapshot)).toEqual(configSnapshot(changed));
    expect(log.lines.some((l) => l.msg.startsWith('The configuration changed since the last start'))).toBe(true);
    audit.close();
    db.close();
  });

  it('the audit page names the new kinds and reads their details in words', () => {
    expect(KIND_TEXT.config_loaded).toBe('Configuration loaded');
    expect(KIND_TEXT.config_changed).toBe('Configuration changed');
    expect(KIND_TEXT.classification_changed).toBe('Classification changed');
    const base = { seq: 1, at: 0, user: null, role: null, origin: null, sessionId: null, hash: 'h' };
    const [changed, cls] = configAuditEntries(
      previousOf(plant()),
      configSnapshot(plant({ profile: (p) => (p.points[2]!.sensitivity = 'plain') })),
      'x',
    ).map((e) => ({ ...base, kind: e.kind, machineId: e.machineId ?? null, detail: e.detail ?? {} }));
    expect(detailText(changed!, {}, 'UTC')).toBe('devices[im-1].points.zone2-sp.sensitivity: sealed → plain');
    expect(detailText(cls!, {}, 'UTC')).toBe('Zone 2 setpoint: sealed → plain');
  });
});
