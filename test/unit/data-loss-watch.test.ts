/**
 * What turns lost or withheld data into something people see (src-main/app/data-loss-watch.ts):
 * a full disk is an alarm and a /healthz problem at once; batches kept back (held by the broker,
 * or not acknowledged by the cloud) raise the delivery alarm only once it lasts, and clear it
 * when delivery is back; the cloud's echo beyond the plant's own numbers is an alarm that says
 * which `store recover --through` to run.
 */
import { describe, expect, it } from 'vitest';
import type { UplinkStatus } from '../../src-preload/contract';
import type { ExternalAlarm } from '../../src-main/alarms/rules';
import { BEHIND_CLOUD_RULE, DELIVERY_RULE, DISK_FULL_RULE, watchDataLoss } from '../../src-main/app/data-loss-watch';
import type { DiskState } from '../../src-main/store/disk-guard';
import { disabledUplinkStatus } from '../../src-main/uplink/points';

const T0 = 1_767_225_600_000;

function setup() {
  let now = T0;
  let disk: DiskState = { full: false, since: null, cause: null, freeBytes: 1e9, failures: 0 };
  const diskListeners: ((s: DiskState) => void)[] = [];
  let status: UplinkStatus = { ...disabledUplinkStatus(T0), configured: true, state: 'online', downSince: null };
  const uplinkListeners: ((s: UplinkStatus) => void)[] = [];
  const raised = new Map<string, ExternalAlarm>();
  const watch = watchDataLoss({
    disk: { state: () => disk, onChange: (fn) => (diskListeners.push(fn), () => {}) },
    history: { stats: () => ({ samplesDropped: 7 }) },
    uplink: { status: () => status, onUpdate: (fn) => (uplinkListeners.push(fn), () => {}) },
    alarms: {
      raiseExternal: (a) => !raised.has(a.ruleId) && (raised.set(a.ruleId, a), true),
      clearExternal: (_m, rule) => raised.delete(rule),
    },
    clock: { now: () => now },
    deliveryAlarmAfterMs: 120_000,
  });
  return {
    watch,
    raised,
    at: (t: number) => void (now = T0 + t),
    setDisk(d: Partial<DiskState>) {
      disk = { ...disk, ...d };
      for (const f of diskListeners) f(disk);
    },
    setDelivery(d: Partial<UplinkStatus['delivery']>) {
      status = { ...status, delivery: { ...status.delivery, ...d } };
      for (const f of uplinkListeners) f(status);
    },
  };
}

describe('data-loss watch', () => {
  it('makes a full disk an alarm and a /healthz problem with its cause and counts, and clears both when space is back', () => {
    const w = setup();
    expect(w.watch.problems()).toEqual([]);
    w.setDisk({ full: true, since: T0, cause: 'SQLITE_FULL: database or disk is full', failures: 3 });
    expect(w.raised.get(DISK_FULL_RULE)).toMatchObject({ priority: 'high', message: expect.stringMatching(/Disk full/) });
    const [p] = w.watch.problems();
    expect(p).toMatchObject({ code: 'DISK_FULL', since: T0 });
    expect(p!.message).toMatch(/SQLITE_FULL.*3 write\(s\) refused, 7 history sample\(s\) dropped/);
    w.setDisk({ full: false, since: null, cause: null });
    expect(w.raised.has(DISK_FULL_RULE)).toBe(false);
    expect(w.watch.problems()).toEqual([]);
  });

  it('raises the delivery alarm only once batches have been kept back for the set time, and clears it when delivery is back', () => {
    const w = setup();
    const held = { state: 'held' as const, since: T0, detail: 'PUBACK 0x10 no matching subscribers' };
    w.setDelivery(held);
    // At once a /healthz problem, not yet an alarm.
    expect(w.watch.problems()).toEqual([expect.objectContaining({ code: 'UPLINK_HELD', message: held.detail })]);
    expect(w.raised.has(DELIVERY_RULE)).toBe(false);
    w.at(119_000);
    w.setDelivery(held);
    expect(w.raised.has(DELIVERY_RULE)).toBe(false);
    w.at(120_000);
    w.setDelivery(held);
    expect(w.raised.get(DELIVERY_RULE)?.message).toMatch(/delivers batches to nobody/);
    w.setDelivery({ state: 'ok', since: null, detail: null });
    expect(w.raised.has(DELIVERY_RULE)).toBe(false);
    expect(w.watch.problems()).toEqual([]);
    // A cloud that stops acknowledging is named as such.
    w.setDelivery({ state: 'waiting', since: T0 + 120_000, detail: null });
    w.at(240_000);
    w.setDelivery({});
    expect(w.raised.get(DELIVERY_RULE)?.message).toMatch(/does not acknowledge/);
    expect(w.watch.problems()).toEqual([expect.objectContaining({ code: 'UPLINK_NOT_ACKNOWLEDGED' })]);
  });

  it("says which recovery to run when the cloud holds numbers beyond the plant's own", () => {
    const w = setup();
    w.setDelivery({ cloudAhead: { high: 1048, lastSeq: 900, since: T0 } });
    expect(w.raised.get(BEHIND_CLOUD_RULE)).toMatchObject({ priority: 'high' });
    expect(w.watch.problems()).toEqual([
      expect.objectContaining({
        code: 'SEQUENCE_BEHIND_CLOUD',
        message: expect.stringContaining('plant-console store recover --through 1048'),
      }),
    ]);
  });
});
