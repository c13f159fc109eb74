/**
 * The uplink's full outbox as a plant-level alarm (ISA-18.2 through the real AlarmEngine): raised
 * once when recording stops, cleared when it resumes, kept until acknowledged, and brought back
 * after a restart from the alarm store.
 */
import { describe, expect, it } from 'vitest';
import { AlarmEngine } from '../../src-main/alarms/engine';
import { PLANT_ALARM_MACHINE } from '../../src-main/alarms/rules';
import { createMemoryAlarmStore } from '../../src-main/alarms/store';
import { OUTBOX_FULL_RULE, watchOutbox } from '../../src-main/uplink/outbox-alarm';
import type { UplinkStatus } from '../../src-preload/contract';

const T0 = Date.UTC(2026, 10, 26, 6, 0);

function uplinkFake() {
  const handlers = new Set<(s: UplinkStatus) => void>();
  return {
    onUpdate(h: (s: UplinkStatus) => void) {
      handlers.add(h);
      return () => handlers.delete(h);
    },
    emit(full: boolean, fullSince: number | null = null) {
      const s = { outbox: { depth: 10, bytes: 1, budgetBytes: 1, oldestCreatedAt: null, full, fullSince } } as unknown as UplinkStatus;
      for (const h of handlers) h(s);
    },
    count: () => handlers.size,
  };
}

describe('outbox full → plant alarm', () => {
  it('raises once while full, clears when recording resumes, and stays until acknowledged', () => {
    const clock = { t: T0, now: () => clock.t };
    const store = createMemoryAlarmStore();
    const engine = new AlarmEngine({ machines: [], clock, store, timers: false });
    const up = uplinkFake();
    const off = watchOutbox(up, engine);
    up.emit(false);
    expect(engine.alarms()).toEqual([]);

    up.emit(true, T0 - 5000);
    up.emit(true, T0 - 5000);
    const raised = engine.alarms();
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({
      id: `${PLANT_ALARM_MACHINE}/${OUTBOX_FULL_RULE}`,
      kind: 'uplink',
      priority: 'high',
      state: 'active-unacked',
      raisedAt: T0 - 5000,
    });
    expect(raised[0]!.message).toContain('no longer recorded');
    expect(store.history().filter((e) => e.event === 'raised')).toHaveLength(1);

    clock.t += 60_000;
    up.emit(false);
    expect(engine.alarms()[0]).toMatchObject({ state: 'cleared-unacked', clearedAt: T0 + 60_000 });
    engine.acknowledge([`${PLANT_ALARM_MACHINE}/${OUTBOX_FULL_RULE}`], 'maintenance');
    expect(engine.alarms()).toEqual([]);

    off();
    expect(up.count()).toBe(0);
  });

  it('comes back after a restart as the same uplink alarm', () => {
    const clock = { t: T0, now: () => clock.t };
    const store = createMemoryAlarmStore();
    const first = new AlarmEngine({ machines: [], clock, store, timers: false });
    const up = uplinkFake();
    watchOutbox(up, first);
    up.emit(true, T0);
    first.stop();
    const again = new AlarmEngine({ machines: [], clock, store, timers: false });
    expect(again.alarms()).toEqual([expect.objectContaining({ kind: 'uplink', state: 'active-unacked' })]);
    // The restarted console's watcher raises nothing twice and clears it when the outbox drains.
    const up2 = uplinkFake();
    watchOutbox(up2, again);
    up2.emit(true, T0);
    expect(store.history().filter((e) => e.event === 'raised')).toHaveLength(1);
    up2.emit(false);
    expect(again.alarms()[0]).toMatchObject({ state: 'cleared-unacked' });
  });
});
