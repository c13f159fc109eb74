/**
 * The whole role matrix through ConsoleApi.handle: every command × every role × local and
 * remote origin, allowed or FORBIDDEN. The expected table is written out here on purpose; it
 * is not derived from COMMANDS, so a change of a command's roles must be made in both places.
 * Every event stream is held to the row of the command that lists the same data
 * (EVENT_SOURCES), × role × origin × the remote grant's machines.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleApi, type ModulesApi, type RecoApi } from '../../src-main/api/service';
import type { AuditEntry } from '../../src-main/audit/record';
import { ALL_CALLER_ROLES, commandsFor, mayCall, roleMatrix, rolesFor } from '../../src-main/auth/roles';
import { resolveConfig } from '../../src-main/config/load';
import { memoryLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import type { Poller } from '../../src-main/core/types';
import { disabledUplinkStatus, type UplinkApi } from '../../src-main/uplink/points';
import {
  ALL_ROLES,
  COMMAND_NAMES,
  EVENT_NAMES,
  EVENT_SOURCES,
  type Caller,
  type CallerRole,
  type CommandName,
  type EventName,
  type Link,
  type ModulesState,
  type ModuleView,
  type RecoInbox,
  type Recommendation,
} from '../../src-preload/contract';
import { FakePoller } from '../helpers/fake-poller';
import { PASSWORDS, setupPeople, type People } from '../helpers/people';

const T0 = Date.UTC(2026, 0, 12, 9, 0);

/** Columns: operator, maintenance, admin, supplier-support, viewer. Y = allowed, - = FORBIDDEN. */
const LOCAL_MATRIX = `
  plant.info       Y Y Y Y Y
  machines.list    Y Y Y Y Y
  machines.get     Y Y Y Y Y
  history.query    Y Y Y Y Y
  kpi.history      Y Y Y Y Y
  system.health    Y Y Y Y Y
  points.write     - Y Y - -
  points.revert    - Y Y - -
  writes.log       Y Y Y - Y
  alarms.list      Y Y Y Y Y
  alarms.ack       Y Y Y - -
  alarms.history   Y Y Y Y Y
  uplink.status    Y Y Y Y Y
  uplink.points    Y Y Y Y Y
  session.info     Y Y Y Y Y
  remote.grant     - Y Y - -
  remote.end       Y Y Y - -
  remote.list      Y Y Y Y Y
  remote.requests  Y Y Y Y -
  remote.propose   - - - Y -
  remote.confirm   - Y Y - -
  remote.reject    - Y Y - -
  remote.reportPage - - - Y -
  remote.summary   - Y Y - -
  audit.query      - Y Y - -
  audit.links      - Y Y - -
  auth.lockouts    - - Y - -
  auth.unlock      - - Y - -
  reco.list        Y Y Y - Y
  reco.apply       - Y Y - -
  reco.reject      - Y Y - -
  reco.defer       - Y Y - -
  reco.revert      - Y Y - -
  modules.list     Y Y Y - Y
  modules.pair     - Y Y - -
  firmware.import  - Y Y - -
  firmware.approve - Y Y - -
  firmware.stop    - Y Y - -
`;

/**
 * The role table is the same for both origins but for the viewer: the console viewed without
 * sign-in is its own screen only, so a remote caller is never a viewer and is refused
 * everything. What a supplier-support person may do beyond the table is narrowed by the live
 * remote session's grant (test/unit/remote.test.ts), not by this table.
 */
const REMOTE_MATRIX = LOCAL_MATRIX.replace(/ [Y-]\n/g, ' -\n');

const COLUMNS: readonly CallerRole[] = ['operator', 'maintenance', 'admin', 'supplier-support', 'viewer'];

function parseMatrix(text: string): Map<string, Set<CallerRole>> {
  const out = new Map<string, Set<CallerRole>>();
  for (const line of text.trim().split('\n')) {
    const [name, ...cells] = line.trim().split(/\s+/);
    expect(cells, `row ${name}`).toHaveLength(COLUMNS.length);
    out.set(name!, new Set(COLUMNS.filter((_, i) => cells[i] === 'Y')));
  }
  return out;
}

/** A valid request for every command, and what an allowed call answers (ok, or the error proving the gate was passed). */
const CALLS: Record<CommandName, { request: unknown; allowed: 'ok' | 'NOT_FOUND' | 'UNAVAILABLE' }> = {
  'plant.info': { request: {}, allowed: 'ok' },
  'machines.list': { request: {}, allowed: 'ok' },
  'machines.get': { request: { machineId: 'im-1' }, allowed: 'ok' },
  'history.query': { request: { machineId: 'im-1', pointIds: ['zone1'], fromMs: T0 - 60_000, toMs: T0, maxPoints: 10 }, allowed: 'ok' },
  'kpi.history': { request: { machineId: 'im-1' }, allowed: 'ok' },
  'system.health': { request: {}, allowed: 'ok' },
  // Writes are off in this plant: an allowed write is answered with a refused WriteResult.
  'points.write': { request: { machineId: 'im-1', pointId: 'zone1-sp', value: 215 }, allowed: 'ok' },
  'points.revert': { request: { writeId: 'no-such-write' }, allowed: 'NOT_FOUND' },
  'writes.log': { request: {}, allowed: 'ok' },
  'alarms.list': { request: {}, allowed: 'ok' },
  'alarms.ack': { request: { alarmIds: ['im-1/fault'] }, allowed: 'ok' },
  'alarms.history': { request: {}, allowed: 'ok' },
  'uplink.status': { request: {}, allowed: 'ok' },
  'uplink.points': { request: {}, allowed: 'ok' },
  'session.info': { request: {}, allowed: 'ok' },
  // This API has no remote support wired: an allowed call passes the role gate and finds it missing.
  'remote.grant': { request: { account: 'support', scope: 'view' }, allowed: 'UNAVAILABLE' },
  'remote.end': { request: { grantId: 'g' }, allowed: 'UNAVAILABLE' },
  'remote.list': { request: {}, allowed: 'UNAVAILABLE' },
  'remote.requests': { request: {}, allowed: 'UNAVAILABLE' },
  'remote.propose': { request: { machineId: 'im-1', pointId: 'zone1-sp', value: 215 }, allowed: 'UNAVAILABLE' },
  'remote.confirm': { request: { requestId: 'r' }, allowed: 'UNAVAILABLE' },
  'remote.reject': { request: { requestId: 'r' }, allowed: 'UNAVAILABLE' },
  'remote.reportPage': { request: { page: '#/' }, allowed: 'UNAVAILABLE' },
  'remote.summary': { request: { grantId: 'g' }, allowed: 'UNAVAILABLE' },
  // No audit log wired into this API: an allowed call passes the gate and finds none.
  'audit.query': { request: { kinds: ['write'] }, allowed: 'UNAVAILABLE' },
  // Without syslog, uplink or sign-in service wired: nothing witnessed, nothing locked, nothing to lift.
  'audit.links': { request: {}, allowed: 'ok' },
  'auth.lockouts': { request: {}, allowed: 'ok' },
  'auth.unlock': { request: { id: 'account|remote|10.0.0.7|anna' }, allowed: 'ok' },
  // No uplink in this plant, so no recommendations: an allowed call passes the gate and finds none.
  'reco.list': { request: {}, allowed: 'UNAVAILABLE' },
  'reco.apply': { request: { id: 'r-1' }, allowed: 'UNAVAILABLE' },
  'reco.reject': { request: { id: 'r-1', reason: 'not now' }, allowed: 'UNAVAILABLE' },
  'reco.defer': { request: { id: 'r-1' }, allowed: 'UNAVAILABLE' },
  'reco.revert': { request: { id: 'r-1' }, allowed: 'UNAVAILABLE' },
  // No firmware root pinned in this plant, so no module manager.
  'modules.list': { request: {}, allowed: 'UNAVAILABLE' },
  'modules.pair': { request: { moduleId: 'm-1', approve: true }, allowed: 'UNAVAILABLE' },
  'firmware.import': { request: { fileName: 'r.pcfw', dataBase64: 'AAAA' }, allowed: 'UNAVAILABLE' },
  'firmware.approve': { request: { releaseId: 'r-1', moduleIds: ['m-1'] }, allowed: 'UNAVAILABLE' },
  'firmware.stop': { request: { rolloutId: 'o-1', reason: 'stop' }, allowed: 'UNAVAILABLE' },
};

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
  const config = resolveConfig(
    {
      plant: { name: 'Matrix', timezone: 'UTC' },
      devices: [{ id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 } }],
    },
    'matrix.json',
  );
  const audited: AuditEntry[] = [];
  const log = memoryLogger();
  const core = new PlantCore({
    config,
    clock: { now: () => T0 },
    log,
    pollerFactory: idlePoller,
    audit: { record: (e) => void audited.push(e) },
  });
  return { core, api: new ConsoleApi(core, { log }), audited, log };
}

describe('role matrix', () => {
  it('covers every command of the contract, no more and no less', () => {
    expect([...parseMatrix(LOCAL_MATRIX).keys()].sort()).toEqual([...COMMAND_NAMES].sort());
    expect([...parseMatrix(REMOTE_MATRIX).keys()].sort()).toEqual([...COMMAND_NAMES].sort());
    expect(Object.keys(CALLS).sort()).toEqual([...COMMAND_NAMES].sort());
    expect(COLUMNS).toEqual(ALL_CALLER_ROLES);
    expect(ALL_CALLER_ROLES.filter((r) => r !== 'viewer')).toEqual(ALL_ROLES);
    // Nobody is remote and a viewer.
    expect([...parseMatrix(REMOTE_MATRIX).values()].some((roles) => roles.has('viewer'))).toBe(false);
  });

  for (const [origin, text] of [
    ['local', LOCAL_MATRIX],
    ['remote', REMOTE_MATRIX],
  ] as const) {
    it(`enforces the table for ${origin} callers: ${COMMAND_NAMES.length} commands × ${ALL_CALLER_ROLES.length} roles`, async () => {
      const matrix = parseMatrix(text);
      const { api, audited, core } = setup();
      const seen: string[] = [];
      for (const name of COMMAND_NAMES) {
        for (const role of ALL_CALLER_ROLES) {
          const caller: Caller = { user: `${role}-${origin}`, role, origin };
          const result = await api.handle(caller, name, CALLS[name].request);
          const allowed = matrix.get(name)!.has(role);
          const got = result.ok ? 'ok' : result.error.code;
          seen.push(`${name} ${role} ${got}`);
          if (allowed) expect(got, `${name} as ${role} (${origin})`).toBe(CALLS[name].allowed);
          else {
            expect(got, `${name} as ${role} (${origin})`).toBe('FORBIDDEN');
            const why = role === 'viewer' && origin === 'remote' ? 'A remote caller must sign in' : `Role "${role}" may not call ${name}`;
            expect(result).toMatchObject({ ok: false, error: { message: why } });
          }
        }
      }
      expect(seen).toHaveLength(COMMAND_NAMES.length * ALL_CALLER_ROLES.length);
      // Refused calls never reached the core: writes and acknowledgements only from allowed roles.
      expect(core.writes.log().map((w) => w.user)).toEqual([`admin-${origin}`, `maintenance-${origin}`]);
      expect(audited.filter((e) => e.kind === 'write').map((e) => e.role)).toEqual(['maintenance', 'admin']);
      expect(audited.every((e) => e.role !== 'supplier-support' && !(e.kind === 'write' && e.role === 'operator'))).toBe(true);
      // The viewer changed nothing: no write, no acknowledgement in its name.
      expect(audited.some((e) => e.user === `viewer-${origin}`)).toBe(false);
    });
  }

  it('refuses an unknown role and an unknown command before the table is read', async () => {
    const { api } = setup();
    const forged = { user: 'x', role: 'superuser', origin: 'local' } as unknown as Caller;
    expect(await api.handle(forged, 'plant.info', {})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await api.handle({ user: 'a', role: 'admin', origin: 'remote' }, 'users.delete', {})).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_COMMAND' },
    });
  });

  it('answers the same through the role helpers the UI and admin screens use', () => {
    const matrix = parseMatrix(LOCAL_MATRIX);
    for (const role of ALL_CALLER_ROLES) {
      expect(commandsFor(role)).toEqual(COMMAND_NAMES.filter((n) => matrix.get(n)!.has(role)));
      expect(roleMatrix()[role]).toEqual(commandsFor(role));
      for (const name of COMMAND_NAMES) expect(mayCall(role, name)).toBe(matrix.get(name)!.has(role));
    }
    expect(rolesFor('points.write')).toEqual(['maintenance', 'admin']);
    expect(rolesFor('nope')).toEqual([]);
    expect(mayCall('admin', 'constructor')).toBe(false);
  });
});

/** A subsystem's change notifications, fired by hand. */
function hub() {
  const handlers = new Set<() => void>();
  return {
    onUpdate(h: () => void) {
      handlers.add(h);
      return () => void handlers.delete(h);
    },
    fire: () => handlers.forEach((h) => h()),
  };
}

let world: People | null = null;
afterEach(async () => {
  await world?.close();
  world = null;
});

/**
 * The people test plant (im-1, pk-2) with hand-driven pollers, and an uplink, an inbox and a
 * module manager that all speak of both machines: every stream has something of pk-2 to leak.
 */
async function eventWorld() {
  const pollers: FakePoller[] = [];
  const p = await setupPeople({
    auth: { idleLockMs: { local: null, remote: null } },
    pollerFactory: (device) => {
      const fp = new FakePoller(device, T0);
      pollers.push(fp);
      return fp;
    },
  });
  world = p;
  const uplinkHub = hub();
  const recoHub = hub();
  const modulesHub = hub();
  const uplink: UplinkApi = {
    status: () => disabledUplinkStatus(T0),
    health: () => ({ state: 'disabled', lastAckSeq: null, outboxDepth: 0, delivery: 'ok', recording: true }),
    pseudonyms: () =>
      new Map([
        ['im-1', 'm-aaaa'],
        ['pk-2', 'm-bbbb'],
      ]),
    onUpdate: (h) => uplinkHub.onUpdate(() => h(disabledUplinkStatus(T0))),
  };
  // Whole answers (every stream is held to its schema), both machines in them.
  const inbox: RecoInbox = { items: [recommendationOf('pk-2', 'Packer 2')], refused: [], autoRevertAllowed: false };
  const modulesState: ModulesState = {
    modules: [moduleOf('mod-pk-2', 'pk-2')],
    releases: [],
    refused: [],
    rollouts: [],
    maintenanceWindow: { text: 'Sat 06:00–14:00', openNow: false },
    root: null,
  };
  const reco = { inbox: () => inbox, onUpdate: recoHub.onUpdate } as unknown as RecoApi;
  const modules = { state: () => modulesState, onUpdate: modulesHub.onUpdate } as unknown as ModulesApi;
  const api = new ConsoleApi(p.core, { log: p.log, remote: p.remote.api, uplink, reco, modules });
  /** Something new on every stream: both machines polled, an alarm on each, every subsystem changed, the core stopping. */
  const everything = async () => {
    for (const fp of pollers) fp.emit(T0 + 1000, 1);
    for (const machineId of ['im-1', 'pk-2'])
      p.core.alarms.raiseExternal({ machineId, ruleId: 'test:jam', priority: 'high', message: `${machineId} jammed` });
    uplinkHub.fire();
    recoHub.fire();
    modulesHub.fire();
    p.remote.support.changed();
    await p.core.stop();
  };
  return { p, api, everything };
}

/** A pending recommendation for one machine. */
function recommendationOf(machineId: string, machineName: string): Recommendation {
  return {
    id: 'r-1',
    machineId,
    machineName,
    issuedAt: T0 - 60_000,
    validUntil: T0 + 3_600_000,
    receivedAt: T0 - 30_000,
    status: 'pending',
    changes: [],
    rationale: 'Cycle time above ideal.',
    expect: { kpi: 'cycleTime', change: -0.04 },
    windowS: 3600,
    guards: [],
    autoRevert: false,
    machineState: 'running',
    interlock: { ok: true, message: null },
    decision: null,
    apply: null,
    outcome: null,
  };
}

/** A paired, healthy module on one machine. */
function moduleOf(id: string, machineId: string): ModuleView {
  return {
    id,
    machineId,
    model: 'pk60',
    pairing: 'paired',
    fingerprint: '3f1a 09bc 77d2 e410',
    health: 'ok',
    lastHeartbeatAt: T0 - 12_000,
    version: '1.0.0',
    imageHash: 'ab'.repeat(64),
    knownRelease: true,
    slot: 'a',
    bootCount: 3,
    uptimeS: 7500,
    tamper: false,
    modbusClients: [],
    update: { state: 'none', releaseId: null, version: null, transferred: 0, size: 0, message: null, since: null },
    history: [],
    events: [],
  };
}

/** Signs the support account in and joins it to a new view grant over `machines` (null: all). */
async function liveSupport(p: People, machines: string[] | null, origin: 'local' | 'remote'): Promise<Caller> {
  const site: Caller = { user: 'maint', role: 'maintenance', origin: 'local' };
  const { joinCode } = p.remote.support.grant(site, { account: 'support', scope: 'view', ...(machines ? { machines } : {}) });
  const login = await p.auth.login('support', PASSWORDS.support, { key: '10.1.2.3', origin: 'remote' });
  if (!login.ok) throw new Error(login.message);
  expect(p.remote.support.join(login.session, joinCode, '10.1.2.3')).toMatchObject({ ok: true });
  return { user: 'support', role: 'supplier-support', origin, sessionId: login.session.id };
}

describe('event streams', () => {
  it('each names the command that lists the same data, a command of the contract', () => {
    expect(Object.keys(EVENT_SOURCES).sort()).toEqual([...EVENT_NAMES].sort());
    for (const name of EVENT_NAMES) expect(COMMAND_NAMES, name).toContain(EVENT_SOURCES[name].command);
  });

  for (const [origin, text] of [
    ['local', LOCAL_MATRIX],
    ['remote', REMOTE_MATRIX],
  ] as const) {
    for (const granted of [null, ['im-1']] as const) {
      const grantWords = granted ? 'a grant of im-1 only' : 'a grant of every machine';
      it(`follow the matrix for ${origin} subscribers (supplier support in ${grantWords}): ${EVENT_NAMES.length} streams × ${ALL_CALLER_ROLES.length} roles`, async () => {
        const matrix = parseMatrix(text);
        const { p, api, everything } = await eventWorld();
        const support = await liveSupport(p, granted ? [...granted] : null, origin);
        const got = new Map<string, unknown[]>();
        const refused = new Map<string, string>();
        for (const role of ALL_CALLER_ROLES) {
          const caller: Caller = role === 'supplier-support' ? support : { user: `${role}-${origin}`, role, origin };
          for (const name of EVENT_NAMES) {
            const key = `${name} ${role}`;
            got.set(key, []);
            try {
              api.subscribe(name, (payload) => got.get(key)!.push(payload), caller);
            } catch (err) {
              refused.set(key, (err as Error).message);
            }
          }
        }
        await everything();
        for (const role of ALL_CALLER_ROLES) {
          for (const name of EVENT_NAMES) {
            const key = `${name} ${role}`;
            const command = EVENT_SOURCES[name].command;
            const payloads = got.get(key)!;
            if (!matrix.get(command)!.has(role)) {
              const why =
                role === 'viewer' && origin === 'remote' ? 'A remote caller must sign in' : `Role "${role}" may not call ${command}`;
              expect(refused.get(key), key).toBe(`${name}: ${why}`);
              expect(payloads, key).toEqual([]);
              continue;
            }
            expect(refused.get(key), key).toBeUndefined();
            expect(payloads.length, key).toBeGreaterThan(0);
            const seen = JSON.stringify(payloads);
            // What the grant leaves out never reaches supplier support; everyone else sees both machines.
            if (role === 'supplier-support' && granted) expect(seen, key).not.toMatch(/pk-2|Packer 2/);
            else if (streamsOfMachines.has(name)) expect(seen, key).toMatch(/pk-2/);
          }
        }
      });
    }
  }

  it('stop reaching supplier support the moment its grant ends', async () => {
    const { p, api } = await eventWorld();
    const support = await liveSupport(p, null, 'remote');
    const seen: unknown[] = [];
    api.subscribe('alarms.update', (s) => seen.push(s), support);
    p.core.alarms.raiseExternal({ machineId: 'im-1', ruleId: 'test:a', priority: 'low', message: 'first' });
    expect(seen).toHaveLength(1);
    p.remote.support.end(p.remote.support.liveGrantOf(support)!.id, { user: 'maint', role: 'maintenance', origin: 'local' });
    p.core.alarms.raiseExternal({ machineId: 'im-1', ruleId: 'test:b', priority: 'low', message: 'second' });
    expect(seen).toHaveLength(1);
  });
});

/** Streams whose payload speaks of machines (the others carry plant-wide state). */
const streamsOfMachines: ReadonlySet<EventName> = new Set(['machines.update', 'alarms.update', 'reco.update', 'modules.update']);
