import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CommandName, EventName } from '../../src-preload/channels';
import type { MachineDetail, PlantInfo, Result, Transport, TransportStatus } from '../../src-preload/contract';
import { useConnectionStore } from '../../src-renderer/src/stores/connection';
import { selectOfflineNames, useMachinesStore } from '../../src-renderer/src/stores/machines';
import { parseHash, routeHash, useNavigationStore } from '../../src-renderer/src/stores/navigation';
import { usePlantStore } from '../../src-renderer/src/stores/plant';
import { startSession } from '../../src-renderer/src/stores/session';
import { useTickStore } from '../../src-renderer/src/stores/tick';
import { liveBuffer, resetLiveSamples } from '../../src-renderer/src/lib/liveSamples';
import { gridFor } from '../../src-renderer/src/pages/Overview';
import { machine } from './renderer-fixtures';

const NOW = Date.UTC(2025, 0, 15, 10, 0, 0);

const info: PlantInfo = {
  name: 'Test plant',
  timezone: 'Europe/Berlin',
  simulated: false,
  shift: { name: 'Early', start: NOW - 3600_000, end: NOW + 7 * 3600_000 },
  machines: [{ id: 'a', name: 'A', model: 'im250' }],
  caller: { user: 'op', role: 'operator', origin: 'local' },
  version: '0.1.0',
  serverTime: NOW,
};

/** A scriptable in-memory transport. */
function fakeTransport() {
  const handlers = new Map<string, Set<(p: unknown) => void>>();
  const statusHandlers = new Set<(s: TransportStatus) => void>();
  const calls: string[] = [];
  let status: TransportStatus = 'connecting';
  const answers: Record<string, () => Result<unknown>> = {
    'plant.info': () => ({ ok: true, value: info }),
    'machines.list': () => ({ ok: true, value: [machine('a', { ts: NOW }), machine('b', { ts: NOW })] }),
    'machines.get': () => ({
      ok: true,
      value: {
        snapshot: machine('a', { ts: NOW }),
        points: [],
        device: { transport: 'tcp', address: '127.0.0.1:1502', unitId: 1, pollIntervalMs: 500 },
      } satisfies MachineDetail,
    }),
  };
  const transport: Transport = {
    kind: 'websocket',
    call: (async (name: CommandName) => {
      calls.push(name);
      return answers[name]?.() ?? { ok: false, error: { code: 'UNKNOWN_COMMAND', message: name } };
    }) as Transport['call'],
    subscribe: ((name: EventName, h: (p: unknown) => void) => {
      let set = handlers.get(name);
      if (!set) handlers.set(name, (set = new Set()));
      set.add(h);
      return () => set.delete(h);
    }) as Transport['subscribe'],
    onStatus(h) {
      statusHandlers.add(h);
      h(status);
      return () => statusHandlers.delete(h);
    },
  };
  return {
    transport,
    calls,
    emit(name: EventName, payload: unknown) {
      for (const h of handlers.get(name) ?? []) h(payload);
    },
    setStatus(s: TransportStatus) {
      status = s;
      for (const h of statusHandlers) h(s);
    },
  };
}

let stop: (() => void) | null = null;

beforeEach(() => {
  vi.useFakeTimers({ now: NOW });
  resetLiveSamples();
  useMachinesStore.setState({ order: [], byId: {}, meta: {}, loaded: false, loadError: null });
  usePlantStore.setState({ info: null, loadError: null, clockOffsetMs: 0 });
  useConnectionStore.setState({ status: 'connecting', everConnected: false });
});

afterEach(() => {
  stop?.();
  stop = null;
  vi.useRealTimers();
});

describe('session', () => {
  it('loads plant and machines on connect and tracks the transport status', async () => {
    const f = fakeTransport();
    stop = startSession(f.transport, { routing: false, log: () => {} });
    expect(useConnectionStore.getState().status).toBe('connecting');
    f.setStatus('connected');
    await vi.advanceTimersByTimeAsync(0);
    expect(useConnectionStore.getState()).toMatchObject({ status: 'connected', everConnected: true });
    expect(usePlantStore.getState().info?.name).toBe('Test plant');
    expect(useMachinesStore.getState().order).toEqual(['a', 'b']);
    expect(useMachinesStore.getState().meta.a?.device.pollIntervalMs).toBe(500);
    expect(f.calls).toEqual(['plant.info', 'machines.list', 'machines.get', 'machines.get', 'alarms.list']);
    f.setStatus('disconnected');
    expect(useConnectionStore.getState().status).toBe('disconnected');
    // Every reconnect reloads: the core may have restarted with another plant.
    f.setStatus('connected');
    await vi.advanceTimersByTimeAsync(0);
    expect(f.calls.filter((c) => c === 'plant.info').length).toBe(2);
  });

  it('applies a flood of events at most every 100 ms, and samples go to ring buffers', async () => {
    const f = fakeTransport();
    stop = startSession(f.transport, { routing: false, log: () => {} });
    f.setStatus('connected');
    await vi.advanceTimersByTimeAsync(0);
    let machineSets = 0;
    const unsub = useMachinesStore.subscribe(() => machineSets++);
    const tick0 = useTickStore.getState().tick;
    for (let i = 1; i <= 1000; i++) f.emit('machines.update', machine('a', { ts: NOW + i, zone1: 200 + i / 100 }));
    expect(machineSets).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(machineSets).toBe(1);
    expect(useTickStore.getState().tick).toBe(tick0 + 1);
    expect(useMachinesStore.getState().byId.a?.ts).toBe(NOW + 1000);
    expect(liveBuffer('a', 'zone1')?.size).toBe(1001);
    // No new data, no render.
    await vi.advanceTimersByTimeAsync(500);
    expect(machineSets).toBe(1);
    unsub();
  });

  it('ignores malformed events and never lets an older snapshot replace a newer one', async () => {
    const f = fakeTransport();
    const logs: string[] = [];
    stop = startSession(f.transport, { routing: false, log: (m) => logs.push(m) });
    f.setStatus('connected');
    await vi.advanceTimersByTimeAsync(0);
    f.emit('machines.update', { id: 42 });
    f.emit('machines.update', machine('a', { ts: NOW + 10 }));
    await vi.advanceTimersByTimeAsync(100);
    useMachinesStore.getState().actions.applySnapshots([machine('a', { ts: NOW + 5 })]);
    expect(useMachinesStore.getState().byId.a?.ts).toBe(NOW + 10);
    expect(logs).toContain('ignored a malformed machines.update');
  });

  it('lists offline machines for the banner', () => {
    useMachinesStore.setState({
      order: ['a', 'b'],
      byId: { a: { ...machine('a', { ts: 1, name: 'Press A' }), state: 'offline' }, b: machine('b', { ts: 1 }) },
    });
    expect(selectOfflineNames(useMachinesStore.getState())).toEqual(['Press A']);
  });
});

describe('navigation', () => {
  it('maps hashes to routes and back', () => {
    expect(parseHash('')).toEqual({ page: 'overview' });
    expect(parseHash('#/')).toEqual({ page: 'overview' });
    expect(parseHash('#/machine/im-1')).toEqual({ page: 'machine', machineId: 'im-1' });
    expect(parseHash('#/machine/a%20b')).toEqual({ page: 'machine', machineId: 'a b' });
    expect(parseHash('#/machine/%E0%A4%A')).toEqual({ page: 'overview' });
    expect(routeHash({ page: 'machine', machineId: 'a b' })).toBe('#/machine/a%20b');
    expect(routeHash({ page: 'overview' })).toBe('#/');
  });

  it('remembers the last machine for the header', () => {
    const nav = useNavigationStore.getState().actions;
    nav.syncFromHash('#/machine/press-2');
    nav.syncFromHash('#/');
    expect(useNavigationStore.getState()).toMatchObject({ route: { page: 'overview' }, lastMachineId: 'press-2' });
  });
});

describe('overview grid', () => {
  it('fits up to 12 machines in at most 3 rows', () => {
    expect(gridFor(3)).toEqual({ cols: 3, rows: 1, density: 'roomy' });
    expect(gridFor(6)).toEqual({ cols: 3, rows: 2, density: 'rows2' });
    expect(gridFor(12)).toEqual({ cols: 4, rows: 3, density: 'rows3' });
    for (let n = 1; n <= 12; n++) {
      const g = gridFor(n);
      expect(g.cols * g.rows).toBeGreaterThanOrEqual(n);
      expect(g.rows).toBeLessThanOrEqual(3);
    }
  });
});
