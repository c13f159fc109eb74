import { beforeEach, describe, expect, it } from 'vitest';
import type { Alarm, AlarmSummary, Result, Transport } from '../../src-preload/contract';
import { alarmKey, compareAlarms, countAlarms, countText, eventText, stateText } from '../../src-renderer/src/lib/alarms';
import { alarmsOfMachine, looksLikeSummary, useAlarmsStore } from '../../src-renderer/src/stores/alarms';
import { parseHash, routeHash } from '../../src-renderer/src/stores/navigation';

const T = Date.UTC(2026, 0, 12, 1, 31); // 02:31 in Berlin

function alarm(id: string, over: Partial<Alarm> = {}): Alarm {
  const [machineId = 'm', ruleId = 'r'] = id.split('/');
  return {
    id,
    machineId,
    ruleId,
    kind: 'high',
    pointId: 'temp',
    priority: 'medium',
    message: 'Hot',
    state: 'active-unacked',
    value: 101,
    limit: 100,
    unit: '°C',
    raisedAt: T,
    clearedAt: null,
    ackedAt: null,
    ackedBy: null,
    ...over,
  };
}

describe('alarm wording', () => {
  it('says the ISA-18.2 state in words, with who acknowledged and when in plant time', () => {
    expect(stateText(alarm('a/b'), 'Europe/Berlin')).toBe('ACTIVE · NOT ACKNOWLEDGED');
    expect(stateText(alarm('a/b', { state: 'cleared-unacked' }), 'Europe/Berlin')).toBe('CLEARED · NOT ACKNOWLEDGED');
    expect(stateText(alarm('a/b', { state: 'active-acked', ackedBy: 'local-operator', ackedAt: T }), 'Europe/Berlin')).toBe(
      'ACTIVE · acknowledged by local-operator 02:31',
    );
    expect(eventText({ event: 'acknowledged', state: 'normal' })).toBe('Acknowledged → normal');
    expect(eventText({ event: 'cleared', state: 'cleared-unacked' })).toBe('Cleared → cleared, not acknowledged');
  });

  it('counts for the header and builds test ids', () => {
    expect(countText({ total: 0, unacknowledged: 0 })).toBe('No alarms');
    expect(countText({ total: 1, unacknowledged: 1 })).toBe('1 alarm · 1 unacknowledged');
    expect(countText({ total: 3, unacknowledged: 0 })).toBe('3 alarms · all acknowledged');
    const c = countAlarms([
      alarm('a/1', { priority: 'critical', state: 'active-acked' }),
      alarm('a/2', { priority: 'low' }),
      alarm('a/3', { priority: 'high', state: 'cleared-unacked' }),
    ]);
    expect(c).toEqual({ total: 3, active: 2, unacknowledged: 2, highestUnacked: 'high', highest: 'critical' });
    expect(alarmKey('im-1/zone1-high')).toBe('im-1-zone1-high');
  });

  it('sorts unacknowledged first, then priority, then newest', () => {
    const list = [
      alarm('a/acked', { priority: 'critical', state: 'active-acked' }),
      alarm('a/low', { priority: 'low' }),
      alarm('a/old', { priority: 'high', raisedAt: T - 1000 }),
      alarm('a/new', { priority: 'high', state: 'cleared-unacked' }),
    ].sort(compareAlarms);
    expect(list.map((a) => a.ruleId)).toEqual(['new', 'old', 'low', 'acked']);
  });

  it('routes #/alarms', () => {
    expect(parseHash('#/alarms')).toEqual({ page: 'alarms' });
    expect(routeHash({ page: 'alarms' })).toBe('#/alarms');
  });
});

describe('alarms store', () => {
  beforeEach(() => {
    useAlarmsStore.setState({ alarms: [], loaded: false, loadError: null, pending: {}, ackError: null, filterMachineId: null, version: 0 });
  });

  function transport(answers: Record<string, () => Result<unknown>>): Transport & { calls: unknown[] } {
    const calls: unknown[] = [];
    return {
      kind: 'websocket',
      calls,
      call: (async (name: string, request: unknown) => {
        calls.push([name, request]);
        return answers[name]?.() ?? { ok: false, error: { code: 'UNKNOWN_COMMAND', message: name } };
      }) as Transport['call'],
      subscribe: () => () => {},
      onStatus: () => () => {},
    };
  }

  it('loads, applies summaries sorted, and selects per machine', async () => {
    const summary: AlarmSummary = {
      alarms: [alarm('a/low', { priority: 'low' }), alarm('b/hi', { priority: 'high' })],
      counts: { active: 2, unacknowledged: 2 },
    };
    const t = transport({ 'alarms.list': () => ({ ok: true, value: summary }) });
    expect(await useAlarmsStore.getState().actions.load(t)).toBe(true);
    const s = useAlarmsStore.getState();
    expect(s.alarms.map((a) => a.id)).toEqual(['b/hi', 'a/low']);
    expect(s.loaded).toBe(true);
    expect(alarmsOfMachine('a')(s).map((a) => a.id)).toEqual(['a/low']);
    expect(alarmsOfMachine('zzz')(s)).toBe(alarmsOfMachine('yyy')(s)); // a stable empty list
    expect(looksLikeSummary(summary)).toBe(true);
    expect(looksLikeSummary({ alarms: [{ id: 1 }] })).toBe(false);
  });

  it('acknowledges through the core, never optimistically, and reports what failed', async () => {
    useAlarmsStore.getState().actions.apply({ alarms: [alarm('a/r')], counts: { active: 1, unacknowledged: 1 } });
    const t = transport({ 'alarms.ack': () => ({ ok: true, value: { acknowledged: ['a/r'], unknown: ['a/gone'] } }) });
    const done = useAlarmsStore.getState().actions.acknowledge(t, ['a/r', 'a/gone']);
    expect(useAlarmsStore.getState().pending).toEqual({ 'a/r': true, 'a/gone': true });
    expect(await done).toBe(true);
    expect(t.calls).toEqual([['alarms.ack', { alarmIds: ['a/r', 'a/gone'] }]]);
    expect(useAlarmsStore.getState().pending).toEqual({});
    expect(useAlarmsStore.getState().alarms[0]?.state).toBe('active-unacked'); // until the core's update arrives
    expect(useAlarmsStore.getState().ackError).toContain('a/gone');

    const refused = transport({
      'alarms.ack': () => ({ ok: false, error: { code: 'FORBIDDEN', message: 'Role "supplier-support" may not call alarms.ack' } }),
    });
    expect(await useAlarmsStore.getState().actions.acknowledge(refused, ['a/r'])).toBe(false);
    expect(useAlarmsStore.getState().ackError).toMatch(/^Not acknowledged: Role/);
  });
});
