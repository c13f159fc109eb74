/**
 * Deciding on a recommendation: apply as one unit through the bounded write path (a failing
 * readback of the second change reverts the first; a revert that fails is said loudly), the
 * check against the expected values, the PIN gate, reject, defer, manual revert, expiry, and
 * the recovery of an apply a crash interrupted. Reports carry roles, never names.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConsoleError } from '../../src-main/core/errors';
import type { Caller } from '../../src-preload/contract';
import { body, INITIAL, makePlant, sealed, T0, TECH, type RecoPlant } from './reco-fixtures';

let plants: RecoPlant[] = [];
afterEach(async () => {
  for (const p of plants) {
    p.service.stop();
    await p.core.stop();
  }
  plants = [];
});

function plant(opts: Parameters<typeof makePlant>[0] = {}): RecoPlant {
  const p = makePlant(opts);
  plants.push(p);
  return p;
}

/** A plant with reco-1 (zone 1 212 → 214, zone 2 215 → 218) pending. */
function withPending(opts: Parameters<typeof makePlant>[0] = {}, over: Parameters<typeof body>[1] = {}): RecoPlant {
  const p = plant(opts);
  expect(p.receive(sealed(p.keys, body(p.keys, over))).verdict).toBe('accepted');
  return p;
}

const OPERATOR: Caller = { user: 'otto', role: 'operator', origin: 'local' };

describe('apply as one unit', () => {
  it('writes every change through the bounded path, reads back, and starts measuring', async () => {
    const p = withPending();
    p.clock.t = T0 + 5000;
    const r = await p.service.apply(TECH, { id: 'reco-1' });
    expect(p.dev.values['zone1-sp']).toBeCloseTo(214, 5);
    expect(p.dev.values['zone2-sp']).toBeCloseTo(218, 5);
    expect(r.status).toBe('applied');
    expect(r.decision).toEqual({ action: 'apply', user: 'anna', at: T0 + 5000, reason: null, deferredUntil: null });
    expect(r.apply).toMatchObject({ ok: true, summary: 'All 2 changes written and read back', at: T0 + 5000 });
    expect(r.apply!.steps.map((s) => [s.pointId, s.action, s.outcome])).toEqual([
      ['zone1-sp', 'write', 'written'],
      ['zone2-sp', 'write', 'written'],
    ]);
    expect(r.outcome).toEqual({
      state: 'measuring',
      windowS: 600,
      beforeFrom: T0 + 5000 - 600_000,
      appliedAt: T0 + 5000,
      until: T0 + 5000 + 600_000,
      expected: null,
      expectMet: null,
      guards: [],
      revertProposed: false,
      autoReverted: false,
    });
    // The write log (and the audit log through the write service) has both writes by anna.
    const log = p.core.writes.log({ machineId: 'im-1' });
    expect(log.map((e) => [e.pointId, e.user, e.before, e.readback, e.outcome])).toEqual([
      ['zone2-sp', 'anna', 215, 218, 'written'],
      ['zone1-sp', 'anna', 212, 214, 'written'],
    ]);
    expect(p.audit.filter((a) => a.kind === 'reco_applied')).toEqual([
      expect.objectContaining({
        user: 'anna',
        role: 'maintenance',
        machineId: 'im-1',
        detail: expect.objectContaining({
          id: 'reco-1',
          ok: true,
          changes: [
            { pointId: 'zone1-sp', from: 212, to: 214 },
            { pointId: 'zone2-sp', from: 215, to: 218 },
          ],
        }),
      }),
    ]);
    expect(p.reporter.sent).toEqual([
      {
        machine: p.keys.machine('im-1'),
        recommendation: 'reco-1',
        kind: 'decision',
        decision: { action: 'apply', role: 'maintenance', reason: null },
      },
      {
        machine: p.keys.machine('im-1'),
        recommendation: 'reco-1',
        kind: 'result',
        result: {
          ok: true,
          summary: 'All 2 changes written and read back',
          steps: [
            { point: 'zone1-sp', action: 'write', outcome: 'written', code: null },
            { point: 'zone2-sp', action: 'write', outcome: 'written', code: null },
          ],
        },
      },
    ]);
    expect(JSON.stringify(p.reporter.sent)).not.toContain('anna');
    await expect(p.service.apply(TECH, { id: 'reco-1' })).rejects.toThrow(
      'Recommendation reco-1 is applied: only a pending or deferred one can be applied',
    );
  });

  it("reverts the first change when the second one's readback fails, and says exactly what happened", async () => {
    const p = withPending();
    p.dev.stuck.add('zone2-sp');
    const r = await p.service.apply(TECH, { id: 'reco-1' });
    expect(r.status).toBe('apply-failed');
    expect(r.outcome).toBeNull();
    expect(r.apply!.ok).toBe(false);
    expect(r.apply!.summary).toBe('Zone 2 setpoint read back 215.0 °C (asked 218.0 °C): 1 change reverted');
    expect(r.apply!.steps.map((s) => [s.pointId, s.action, s.outcome, s.code])).toEqual([
      ['zone1-sp', 'write', 'written', null],
      ['zone2-sp', 'write', 'readback-mismatch', 'READBACK_MISMATCH'],
      ['zone1-sp', 'revert', 'written', null],
    ]);
    // The device holds what it held before: zone 1 written to 214, then put back.
    expect(p.dev.writes.map((w) => [w.pointId, w.value])).toEqual([
      ['zone1-sp', 214],
      ['zone2-sp', 218],
      ['zone1-sp', 212],
    ]);
    expect(p.dev.values['zone1-sp']).toBeCloseTo(212, 5);
    expect(p.dev.values['zone2-sp']).toBeCloseTo(215, 5);
    const revert = p.core.writes.log({ machineId: 'im-1' })[0]!;
    expect(revert).toMatchObject({
      pointId: 'zone1-sp',
      user: 'anna',
      before: 214,
      requested: 212,
      outcome: 'written',
      revertOf: r.apply!.steps[0]!.writeId,
    });
    expect(p.reporter.sent.map((x) => x.kind)).toEqual(['decision', 'result']);
    expect(p.reporter.sent[1]!.result).toMatchObject({
      ok: false,
      summary: 'Zone 2 setpoint read back 215.0 °C (asked 218.0 °C): 1 change reverted',
    });
  });

  it('says loudly when a revert itself fails, and skips what came after the failure', async () => {
    const p = withPending(
      {},
      {
        changes: [
          { point: 'zone1-sp', expected: 212, proposed: 214 },
          { point: 'zone2-sp', expected: 215, proposed: 218 },
          { point: 'hold-sp', expected: 600, proposed: 620 },
        ],
      },
    );
    // Idle, so the holding pressure's interlock allows the unit; the device accepts the first write, then stops answering writes.
    p.dev.emit(T0, { state: 0 });
    p.dev.beforeWrite = (_point, n) => {
      if (n >= 2) throw new ConsoleError('MODBUS_EXCEPTION', 'Modbus exception 4 (server device failure)');
    };
    const r = await p.service.apply(TECH, { id: 'reco-1' });
    expect(r.status).toBe('apply-failed');
    expect(r.apply!.steps.map((s) => [s.pointId, s.action, s.outcome])).toEqual([
      ['zone1-sp', 'write', 'written'],
      ['zone2-sp', 'write', 'failed'],
      ['hold-sp', 'write', 'skipped'],
      ['zone1-sp', 'revert', 'failed'],
    ]);
    expect(r.apply!.summary).toBe(
      'Zone 2 setpoint failed: the device did not confirm the write (Modbus exception 4 (server device failure)): 0 changes reverted; ' +
        'REVERT FAILED: Zone 1 setpoint could not be put back to 212.0 °C (the device did not confirm the write (Modbus exception 4 (server device failure))): it still holds 214.0 °C, check the machine',
    );
    expect(p.dev.values['zone1-sp']).toBeCloseTo(214, 5);
    expect(p.log.lines.some((l) => l.level === 'error' && l.msg.startsWith('Recommendation reco-1 NOT applied: '))).toBe(true);
  });

  it('refuses when a value differs from the expected one by more than half its resolution, and writes nothing', async () => {
    const p = withPending();
    p.dev.emit(T0 + 1000, { 'zone2-sp': 215.04 });
    p.dev.emit(T0 + 1000, { 'zone2-sp': 216 });
    await expect(p.service.apply(TECH, { id: 'reco-1' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: 'Zone 2 setpoint is 216.0 °C now, the recommendation expected 215.0 °C: ask the supplier for a new one',
    });
    expect(p.dev.writes).toEqual([]);
    expect(p.service.inbox(TECH).items[0]!.status).toBe('pending');
    // Within half a resolution step (0.1 °C) it goes ahead.
    p.dev.emit(T0 + 2000, { 'zone2-sp': 215.04 });
    expect((await p.service.apply(TECH, { id: 'reco-1' })).status).toBe('applied');
  });

  it('refuses while an interlock is not met, keeping the recommendation pending', async () => {
    const p = withPending({}, { changes: [{ point: 'hold-sp', expected: 600, proposed: 620 }] });
    expect(p.service.inbox(OPERATOR).items[0]!.interlock).toEqual({
      ok: false,
      message: 'Holding pressure setpoint can only be changed while the machine is idle; it is running',
    });
    await expect(p.service.apply(TECH, { id: 'reco-1' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: 'Holding pressure setpoint can only be changed while the machine is idle; it is running',
    });
    expect(p.dev.writes).toEqual([]);
    p.dev.emit(T0 + 1000, { state: 0 });
    expect(p.service.inbox(OPERATOR).items[0]!.interlock).toEqual({ ok: true, message: null });
    const r = await p.service.apply(TECH, { id: 'reco-1' });
    expect(r.status).toBe('applied');
    expect(p.dev.values['hold-sp']).toBe(620);
  });

  it('asks the confirm gate before apply and revert; a refused PIN writes nothing', async () => {
    const p = plant();
    const gate = vi.fn(async (_c: Caller, pin: string | undefined) => {
      if (pin !== '4711') throw new ConsoleError('FORBIDDEN', 'Wrong PIN');
    });
    const { RecoService } = await import('../../src-main/recommendations/inbox');
    const service = new RecoService({
      host: p.core,
      store: p.store,
      reporter: p.reporter,
      log: p.log,
      autoRevertAllowed: false,
      confirm: gate,
    });
    p.receive(sealed(p.keys, body(p.keys)));
    await expect(service.apply(TECH, { id: 'reco-1', pin: '0000' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(p.dev.writes).toEqual([]);
    expect((await service.apply(TECH, { id: 'reco-1', pin: '4711' })).status).toBe('applied');
    await expect(service.revert(TECH, { id: 'reco-1' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await service.revert(TECH, { id: 'reco-1', pin: '4711' })).status).toBe('reverted');
    expect(gate.mock.calls.map((c) => c[1])).toEqual(['0000', '4711', undefined, '4711']);
    service.stop();
  });

  it('reverts an applied recommendation by hand, cutting the measurement short', async () => {
    const p = withPending();
    await p.service.apply(TECH, { id: 'reco-1' });
    p.clock.t = T0 + 60_000;
    const r = await p.service.revert(TECH, { id: 'reco-1' });
    expect(r.status).toBe('reverted');
    expect(r.decision).toMatchObject({ action: 'revert', user: 'anna', at: T0 + 60_000 });
    expect(r.outcome?.state).toBe('no-data');
    expect(r.apply!.summary).toBe('All 2 changes written and read back. Reverted: 2 changes reverted');
    expect(r.apply!.steps.filter((s) => s.action === 'revert').map((s) => [s.pointId, s.outcome])).toEqual([
      ['zone2-sp', 'written'],
      ['zone1-sp', 'written'],
    ]);
    expect([p.dev.values['zone1-sp'], p.dev.values['zone2-sp']]).toEqual([212, 215]);
    expect(p.reporter.sent.slice(2).map((x) => [x.kind, x.decision?.action ?? x.result?.summary])).toEqual([
      ['decision', 'revert'],
      ['result', '2 changes reverted'],
    ]);
    expect(p.audit.filter((a) => a.kind === 'reco_reverted')).toEqual([
      expect.objectContaining({ user: 'anna', machineId: 'im-1', detail: expect.objectContaining({ ok: true, automatic: false }) }),
    ]);
    await expect(p.service.revert(TECH, { id: 'reco-1' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('reject, defer, expiry', () => {
  it('rejects with a reason, reported by role; a rejected one cannot be applied', async () => {
    const p = withPending();
    const r = p.service.reject(TECH, { id: 'reco-1', reason: 'Mould change planned this week' });
    expect(r).toMatchObject({ status: 'rejected', decision: { action: 'reject', user: 'anna', reason: 'Mould change planned this week' } });
    expect(p.reporter.sent).toEqual([
      {
        machine: p.keys.machine('im-1'),
        recommendation: 'reco-1',
        kind: 'decision',
        decision: { action: 'reject', role: 'maintenance', reason: 'Mould change planned this week' },
      },
    ]);
    expect(p.audit.filter((a) => a.kind === 'reco_rejected')).toEqual([
      expect.objectContaining({ user: 'anna', detail: expect.objectContaining({ reason: 'Mould change planned this week' }) }),
    ]);
    await expect(p.service.apply(TECH, { id: 'reco-1' })).rejects.toThrow('is rejected');
    expect(p.dev.writes).toEqual([]);
  });

  it('defers until a time, then shows it pending again; a deferral past the expiry is refused', async () => {
    const p = withPending();
    expect(() => p.service.defer(TECH, { id: 'reco-1', untilMs: T0 + 3 * 3_600_000 })).toThrow('the recommendation expires at');
    const r = p.service.defer(TECH, { id: 'reco-1', untilMs: T0 + 3_600_000, reason: 'after the shift change' });
    expect(r).toMatchObject({
      status: 'deferred',
      decision: { action: 'defer', deferredUntil: T0 + 3_600_000, reason: 'after the shift change' },
    });
    expect(p.audit.filter((a) => a.kind === 'reco_deferred')).toHaveLength(1);
    p.clock.t = T0 + 3_600_000;
    await p.service.sweep();
    expect(p.service.inbox(OPERATOR).items[0]!.status).toBe('pending');
  });

  it('expires what nobody decided before valid-until, and refuses to apply it', async () => {
    const p = withPending();
    const before = p.updates();
    p.clock.t = T0 + 2 * 3_600_000;
    await p.service.sweep();
    expect(p.updates()).toBe(before + 1);
    expect(p.service.inbox(OPERATOR).items[0]!.status).toBe('expired');
    await expect(p.service.apply(TECH, { id: 'reco-1' })).rejects.toThrow(
      'Recommendation reco-1 is expired: only a pending or deferred one can be applied',
    );
    expect(() => p.service.reject(TECH, { id: 'reco-1', reason: 'late' })).toThrow('is expired');
  });

  it('marks an expired one in the view even before the timer fires', () => {
    const p = withPending();
    p.clock.t = T0 + 2 * 3_600_000 + 1;
    expect(p.service.inbox(OPERATOR).items[0]!.status).toBe('expired');
  });
});

describe('an apply a crash interrupted', () => {
  it('is undone on restart from what the write log says was written, and closed as apply-failed ("interrupted")', async () => {
    const p = withPending();
    // The second write never completes: the console "dies" while it hangs.
    p.dev.beforeWrite = (_point, n) => (n === 2 ? new Promise<void>(() => undefined) : undefined);
    void p.service.apply(TECH, { id: 'reco-1' });
    await vi.waitFor(() => expect(p.store.get('reco-1')!.progress?.steps).toHaveLength(1));
    expect(p.store.get('reco-1')!.status).toBe('applying');
    p.service.stop();

    // The restart: a new core and inbox on the same store; the device kept what it was written.
    const q = plant({ db: p.db, keys: p.keys, initial: { ...INITIAL, 'zone1-sp': 214 } });
    await q.service.start();
    const r = q.service.inbox(TECH).items[0]!;
    expect(r.status).toBe('apply-failed');
    expect(r.apply!.ok).toBe(false);
    expect(r.apply!.summary).toBe('Interrupted: the console stopped during the apply; 1 change reverted');
    expect(r.apply!.steps.map((s) => [s.pointId, s.action, s.outcome])).toEqual([
      ['zone1-sp', 'write', 'written'],
      ['zone1-sp', 'revert', 'written'],
    ]);
    expect(q.dev.values['zone1-sp']).toBeCloseTo(212, 5);
    expect(q.core.writes.log({ machineId: 'im-1' })[0]).toMatchObject({
      user: 'system',
      pointId: 'zone1-sp',
      requested: 212,
      outcome: 'written',
    });
    expect(q.reporter.sent).toEqual([
      expect.objectContaining({ kind: 'result', result: expect.objectContaining({ ok: false, summary: r.apply!.summary }) }),
    ]);
    // Done by the console itself: no user on the record.
    const audited = q.audit.filter((a) => a.kind === 'reco_applied');
    expect(audited).toEqual([
      expect.objectContaining({ machineId: 'im-1', detail: expect.objectContaining({ interrupted: true, ok: false }) }),
    ]);
    expect(audited[0]!.user).toBeUndefined();
  });
});
