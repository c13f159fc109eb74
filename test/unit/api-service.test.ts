import { afterEach, describe, expect, it, vi } from 'vitest';
import { answerWatcher, watchAnswers, type AnswerProblem } from '../../src-main/api/answer-check';
import { ConsoleApi, type CommandTable } from '../../src-main/api/service';
import { LOCAL_OPERATOR } from '../helpers/callers';
import { resolveConfig } from '../../src-main/config/load';
import type { PlantConfig } from '../../src-main/config/schema';
import { createMemoryHistory } from '../../src-main/core/history-memory';
import { memoryLogger } from '../../src-main/core/log';
import { PlantCore, type CoreStatusEvent } from '../../src-main/core/plant';
import type { HistoryStore } from '../../src-main/core/types';
import { disabledUplinkStatus, type UplinkApi } from '../../src-main/uplink/points';
import {
  COMMANDS,
  EVENTS,
  type Caller,
  type CommandName,
  type CommandResponse,
  type Health,
  type MachineSnapshot,
  type UplinkStatus,
} from '../../src-preload/contract';
import { FakePoller } from '../helpers/fake-poller';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 12, 9, 0); // three hours into the Early shift (06:00 UTC)

function plantConfig(): PlantConfig {
  return resolveConfig(
    {
      plant: { name: 'Werk Süd', timezone: 'UTC' },
      devices: [
        { id: 'im-1', name: 'Moulder 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 } },
        { id: 'hp-1', name: 'Press 1', profile: 'builtin:hp200', transport: { type: 'tcp', host: '127.0.0.1', port: 1503 } },
      ],
    },
    'test-config.json',
    { simulated: true },
  );
}

function setup(opts: { commands?: CommandTable; history?: HistoryStore } = {}) {
  const config = plantConfig();
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const log = memoryLogger();
  const pollers = new Map<string, FakePoller>();
  const core = new PlantCore({
    config,
    clock,
    log,
    version: '1.2.3',
    history: opts.history,
    pollerFactory: (d) => {
      const p = new FakePoller(d, T0);
      pollers.set(d.id, p);
      return p;
    },
  });
  const api = new ConsoleApi(core, { log, commands: opts.commands });
  return { config, clock, log, pollers, core, api };
}

const cores: PlantCore[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
  vi.useRealTimers();
});

function started(opts?: Parameters<typeof setup>[0]) {
  const s = setup(opts);
  s.core.start();
  cores.push(s.core);
  return s;
}

/** Calls a command that must succeed and checks the answer against its response schema. */
async function ok<K extends CommandName>(
  api: ConsoleApi,
  name: K,
  request: unknown,
  caller: Caller = LOCAL_OPERATOR,
): Promise<CommandResponse<K>> {
  const r = await api.handle(caller, name, request);
  if (!r.ok) throw new Error(`${name} failed: ${r.error.code} ${r.error.message}`);
  const schema: { parse(v: unknown): unknown } = COMMANDS[name].response;
  return schema.parse(r.value) as CommandResponse<K>;
}

async function err(api: ConsoleApi, name: string, request: unknown, caller: Caller = LOCAL_OPERATOR) {
  const r = await api.handle(caller, name, request);
  if (r.ok) throw new Error(`${name} unexpectedly succeeded`);
  return r.error;
}

describe('ConsoleApi commands', () => {
  it('answers every command with its response schema', async () => {
    const { api, pollers, clock } = started();
    for (let i = 0; i <= 5; i++) {
      clock.t = T0 + i * 1000;
      pollers.get('im-1')!.emit(clock.t, 1, { good: 100 + i, zone1: 210 + i });
      pollers.get('hp-1')!.emit(clock.t, 9);
    }

    const info = await ok(api, 'plant.info', {});
    expect(info).toMatchObject({ name: 'Werk Süd', timezone: 'UTC', simulated: true, version: '1.2.3', caller: LOCAL_OPERATOR });
    expect(info.shift).toEqual({ name: 'Early', start: Date.UTC(2026, 0, 12, 6), end: Date.UTC(2026, 0, 12, 14) });
    expect(info.machines).toEqual([
      { id: 'im-1', name: 'Moulder 1', model: 'im250' },
      { id: 'hp-1', name: 'Press 1', model: 'hp200' },
    ]);
    await ok(api, 'plant.info', undefined);

    const list = await ok(api, 'machines.list', {});
    expect(list.map((m) => [m.id, m.state])).toEqual([
      ['im-1', 'running'],
      ['hp-1', 'fault'],
    ]);
    expect(list[0]?.shift.goodCount).toBe(5);

    const detail = await ok(api, 'machines.get', { machineId: 'hp-1' });
    expect(detail.points.map((p) => p.id)).toContain('force');
    expect(detail.device.address).toBe('127.0.0.1:1503');

    const hist = await ok(api, 'history.query', {
      machineId: 'im-1',
      pointIds: ['zone1', 'auto'],
      fromMs: T0,
      toMs: T0 + 10_000,
      maxPoints: 100,
    });
    expect(hist.series.map((s) => s.pointId)).toEqual(['zone1', 'auto']);
    expect(hist.series[0]?.v).toEqual([210, 211, 212, 213, 214, 215]);
    expect(hist.series[1]?.v).toEqual([0, 0, 0, 0, 0, 0]);

    const kpi = await ok(api, 'kpi.history', { machineId: 'im-1' });
    expect(kpi.samples).toHaveLength(1); // the sample taken at start

    const health = await ok(api, 'system.health', {});
    expect(health).toMatchObject({ core: 'running', startedAt: T0, simulated: true });
    expect(health.machines.map((m) => m.link.state)).toEqual(['online', 'online']);
  });

  it('defaults kpi.history to the current shift and honours fromMs', async () => {
    const { api, core, clock } = setup();
    // Samples every 30 min from 05:00 to 09:00 (no start: only these samples); those before 06:00 belong to the Night shift.
    for (let t = Date.UTC(2026, 0, 12, 5); t <= T0; t += 30 * MIN) {
      clock.t = t;
      core.tick(t);
    }
    const shift = await ok(api, 'kpi.history', { machineId: 'hp-1' });
    expect(shift.samples[0]?.t).toBe(Date.UTC(2026, 0, 12, 6));
    const all = await ok(api, 'kpi.history', { machineId: 'hp-1', fromMs: 0 });
    expect(all.samples[0]?.t).toBe(Date.UTC(2026, 0, 12, 5));
  });

  it('refuses bad requests, naming the field', async () => {
    const { api, log } = started();
    const extra = await err(api, 'machines.get', { machineId: 'im-1', verbose: true });
    expect(extra.code).toBe('BAD_REQUEST');
    expect(extra.message).toContain('verbose');
    const wrongType = await err(api, 'machines.get', { machineId: 42 });
    expect(wrongType).toMatchObject({ code: 'BAD_REQUEST' });
    expect(wrongType.message).toMatch(/^machineId: /);
    const backwards = await err(api, 'history.query', { machineId: 'im-1', pointIds: ['zone1'], fromMs: T0, toMs: T0 - 1, maxPoints: 10 });
    expect(backwards).toEqual({ code: 'BAD_REQUEST', message: 'toMs: toMs must not be before fromMs' });
    const nested = await err(api, 'history.query', { machineId: 'im-1', pointIds: ['zone1', ''], fromMs: T0, toMs: T0, maxPoints: 1 });
    expect(nested.message).toContain('pointIds[1]: ');
    expect(nested.message).toContain('maxPoints: ');
    expect((await err(api, 'plant.info', 'hello')).code).toBe('BAD_REQUEST');
    expect(log.lines.some((l) => l.level === 'warn' && l.fields?.['user'] === 'local-operator' && l.fields['code'] === 'BAD_REQUEST')).toBe(
      true,
    );
  });

  it('refuses unknown commands, including prototype names', async () => {
    const { api } = started();
    for (const name of ['machines.delete', '__proto__', 'constructor', 'toString', '']) {
      expect((await err(api, name, {})).code).toBe('UNKNOWN_COMMAND');
    }
  });

  it('answers NOT_FOUND for unknown machines and points, and for text points', async () => {
    const { api } = started();
    expect((await err(api, 'machines.get', { machineId: 'nope' })).code).toBe('NOT_FOUND');
    expect((await err(api, 'kpi.history', { machineId: 'nope' })).code).toBe('NOT_FOUND');
    const q = { machineId: 'im-1', fromMs: 0, toMs: T0, maxPoints: 10 };
    expect((await err(api, 'history.query', { ...q, machineId: 'nope', pointIds: ['zone1'] })).code).toBe('NOT_FOUND');
    const missing = await err(api, 'history.query', { ...q, pointIds: ['zone1', 'zone9'] });
    expect(missing).toMatchObject({ code: 'NOT_FOUND' });
    expect(missing.message).toContain('zone9');
    const text = await err(api, 'history.query', { ...q, pointIds: ['serial'] });
    expect(text.code).toBe('NOT_FOUND');
    expect(text.message).toMatch(/text/);
  });

  it('checks the caller role against the command table', async () => {
    const commands: CommandTable = { ...COMMANDS, 'system.health': { ...COMMANDS['system.health'], roles: ['admin'] } };
    const { api, log } = started({ commands });
    const refused = await err(api, 'system.health', {});
    expect(refused.code).toBe('FORBIDDEN');
    expect(refused.message).toContain('operator');
    await ok(api, 'system.health', {}, { user: 'root', role: 'admin', origin: 'local' });
    const forged = { user: 'x', role: 'superuser', origin: 'remote' } as unknown as Caller;
    expect((await err(api, 'plant.info', {}, forged)).code).toBe('FORBIDDEN');
    expect(log.lines.some((l) => l.level === 'warn' && l.fields?.['code'] === 'FORBIDDEN' && l.fields['role'] === 'operator')).toBe(true);
    expect(api.stats()).toMatchObject({ FORBIDDEN: 2, ok: 1 });
  });

  it('turns a thrown error into INTERNAL without leaking it, and logs the detail', async () => {
    const base = createMemoryHistory({ retentionMs: 60 * MIN });
    const broken: HistoryStore = {
      ...base,
      query: () => {
        throw new Error('disk /secret/path exploded');
      },
    };
    const { api, log } = started({ history: broken });
    const e = await err(api, 'history.query', { machineId: 'im-1', pointIds: ['zone1'], fromMs: 0, toMs: T0, maxPoints: 10 });
    expect(e.code).toBe('INTERNAL');
    expect(e.message).not.toContain('secret');
    expect(log.lines.some((l) => l.level === 'error' && String(l.fields?.['error']).includes('/secret/path'))).toBe(true);
  });
});

describe('answers held to the contract', () => {
  /** A watcher of this test's own in place of the suite's (test/helpers/answer-watch.ts), put back after `fn`. */
  async function watching(fn: (told: AnswerProblem[]) => Promise<void>): Promise<void> {
    const told: AnswerProblem[] = [];
    const suite = watchAnswers((p) => void told.push(p));
    try {
      await fn(told);
    } finally {
      watchAnswers(suite);
    }
  }

  it('turns an answer its schema refuses into INTERNAL and tells the watcher, which fails the test', async () => {
    // Every test file runs with the suite's watcher installed.
    expect(answerWatcher()).not.toBeNull();
    const { api, core, log } = started();
    vi.spyOn(core, 'health').mockReturnValue({ core: 'melting', machines: 'none' } as unknown as Health);
    await watching(async (told) => {
      const e = await err(api, 'system.health', {});
      expect(e.code).toBe('INTERNAL');
      expect(told).toEqual([{ kind: 'command', name: 'system.health', problem: expect.stringContaining('core:') }]);
      expect(told[0]!.problem).toContain('machines:');
      expect(log.lines.some((l) => l.level === 'error' && String(l.fields?.['error']).includes('outside its contract'))).toBe(true);
    });
  });

  it('drops an event payload its schema refuses, and tells the watcher', async () => {
    const { core } = started();
    let push: (s: UplinkStatus) => void = () => undefined;
    const uplink: UplinkApi = {
      status: () => disabledUplinkStatus(T0),
      health: () => ({ state: 'disabled', lastAckSeq: null, outboxDepth: 0, delivery: 'ok', recording: true }),
      pseudonyms: () => new Map(),
      onUpdate: (h) => {
        push = h;
        return () => undefined;
      },
    };
    const api = new ConsoleApi(core, { uplink });
    await watching(async (told) => {
      const got: unknown[] = [];
      api.subscribe('uplink.update', (s) => got.push(s), LOCAL_OPERATOR);
      push(disabledUplinkStatus(T0));
      push({ state: 'sideways' } as unknown as UplinkStatus);
      expect(got).toEqual([disabledUplinkStatus(T0)]);
      expect(told.map((p) => [p.kind, p.name])).toEqual([['event', 'uplink.update']]);
    });
  });

  it('parses nothing a second time without a watcher (the product installs none)', async () => {
    const { api, core } = started();
    vi.spyOn(core, 'health').mockReturnValue({ core: 'melting' } as unknown as Health);
    const suite = watchAnswers(null);
    try {
      expect(await api.handle(LOCAL_OPERATOR, 'system.health', {})).toEqual({ ok: true, value: { core: 'melting' } });
    } finally {
      watchAnswers(suite);
    }
  });
});

describe('ConsoleApi events and the core lifecycle', () => {
  it('delivers machine updates to subscribers until they unsubscribe', () => {
    const { api, pollers } = started();
    const seen: MachineSnapshot[] = [];
    const off = api.subscribe('machines.update', (s) => seen.push(s), LOCAL_OPERATOR);
    pollers.get('im-1')!.emit(T0, 0);
    pollers.get('hp-1')!.emit(T0, 1);
    expect(seen.map((s) => [s.id, s.state])).toEqual([
      ['im-1', 'idle'],
      ['hp-1', 'running'],
    ]);
    expect(EVENTS['machines.update'].parse(seen[0])).toBeTruthy();
    off();
    pollers.get('im-1')!.emit(T0 + 1000, 1);
    expect(seen).toHaveLength(2);
  });

  it('keeps delivering when one subscriber throws', () => {
    const { api, pollers } = started();
    let n = 0;
    api.subscribe(
      'machines.update',
      () => {
        throw new Error('socket closed');
      },
      LOCAL_OPERATOR,
    );
    api.subscribe('machines.update', () => void n++, LOCAL_OPERATOR);
    pollers.get('im-1')!.emit(T0, 1);
    expect(n).toBe(1);
  });

  it('reports status changes, starts and stops every poller, and leaves no timer', async () => {
    vi.useFakeTimers({ now: T0 });
    const { api, core, pollers } = setup();
    const states: CoreStatusEvent[] = [];
    const off = api.subscribe('core.status', (e) => states.push(EVENTS['core.status'].parse(e)), LOCAL_OPERATOR);
    expect(core.status()).toBe('starting');
    core.start();
    expect(core.status()).toBe('running');
    expect([...pollers.values()].every((p) => p.started)).toBe(true);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(2 * MIN);
    expect(core.history.kpis('im-1', 0)).toHaveLength(3); // at start, +1 min, +2 min
    await core.stop();
    expect(core.status()).toBe('stopping');
    expect([...pollers.values()].every((p) => p.stopped)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(states.map((s) => s.state)).toEqual(['starting', 'running', 'stopping']);
    off();
    expect(() => core.start()).toThrow(/stopped/);
  });

  it('refuses unknown event streams', () => {
    const { api } = setup();
    expect(() => api.subscribe('machines.delete' as 'machines.update', () => {}, LOCAL_OPERATOR)).toThrow(/Unknown event stream/);
  });
});
