/**
 * Health and threat monitoring of the module manager: each rule raises an ISA-18.2 alarm on the
 * module's machine, writes a `module_event` audit record and sends a sealed health event (opened
 * here with the test cloud key); conditions clear when they end; a repeating momentary event
 * counts up instead of flooding; only paired modules' heartbeats count.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ModuleEventKind } from '../../src-preload/contract';
import { signingKeyPair } from '../../src-main/protocol/keys';
import { bundleOf, makeRelease } from '../helpers/firmware-fixtures';
import { MAINT, moduleWorld, type World } from './modules-fixtures';

let w: World;
afterEach(() => w?.close());

/** The module alarms of a machine now: kind of event → alarm state. */
function moduleAlarms(machineId: string): Record<string, string> {
  return Object.fromEntries(
    w.core.alarms
      .alarms(machineId)
      .filter((a) => a.kind === 'module')
      .map((a) => [a.ruleId.split(':').at(-1)!, a.state]),
  );
}

function audited(kind: ModuleEventKind): { active: unknown; message: unknown }[] {
  return w.audit
    .filter((e) => e.kind === 'module_event' && e.detail?.event === kind)
    .map((e) => ({ active: e.detail?.active, message: e.detail?.message }));
}

function expectEverywhere(moduleId: string, machineId: string, kind: ModuleEventKind, text: RegExp, state = 'active-unacked'): void {
  expect(moduleAlarms(machineId)[kind]).toBe(state);
  expect(audited(kind).at(-1)?.message).toMatch(text);
  const h = w.health.filter((e) => e.kind === kind);
  expect(h.length).toBeGreaterThan(0);
  expect(h[0]!.module).toBe(moduleId);
  expect(h[0]!.active).toBe(true);
  expect(h[0]!.message).toMatch(text);
  // The machine travels as its pseudonym, never its id.
  expect(h[0]!.machine).toMatch(/^[a-z2-7]{16}$/);
  const view = w.manager.state(MAINT).modules.find((m) => m.id === moduleId)!;
  expect(view.events.some((e) => e.kind === kind)).toBe(true);
}

describe('module threat monitoring', () => {
  it('the enclosure switch raises an alarm on the machine, audited and reported, and clears when closed', async () => {
    w = moduleWorld();
    await w.pair('mod-1');
    expect(w.beat('mod-1').status).toBe(200);
    expect(moduleAlarms('im-1')).toEqual({});
    w.beat('mod-1', { tamper: { open: true, since: w.clock.t } });
    expectEverywhere('mod-1', 'im-1', 'tamper', /the enclosure switch reports the cover open/);
    expect(w.manager.state(MAINT).modules[0]!.health).toBe('alarm');
    expect(w.core.snapshot('im-1')!.alarms).toEqual({ active: 1, unacknowledged: 1, highest: 'high' });
    // Still open: no second alarm, record or report.
    w.beat('mod-1', { tamper: { open: true, since: w.clock.t } });
    expect(audited('tamper')).toHaveLength(1);
    w.beat('mod-1');
    expect(moduleAlarms('im-1').tamper).toBe('cleared-unacked');
    expect(audited('tamper').map((a) => a.active)).toEqual([true, false]);
    expect(w.health.filter((e) => e.kind === 'tamper').map((e) => e.active)).toEqual([true, false]);
  });

  it('a Modbus client other than the console is foreign', async () => {
    w = moduleWorld();
    await w.pair('mod-1');
    w.beat('mod-1', { modbusClients: ['127.0.0.1:40000', '10.0.0.9:50122'] });
    expectEverywhere('mod-1', 'im-1', 'foreign-modbus-client', /10\.0\.0\.9:50122 connected besides the console/);
  });

  it('firmware that matches no signed release is unknown', async () => {
    w = moduleWorld();
    await w.pair('mod-1');
    w.beat('mod-1', { firmware: { version: '6.6.6', blake2b512: 'e'.repeat(128), slot: 'b', state: 'committed', trialBoot: 0 } });
    expectEverywhere('mod-1', 'im-1', 'unknown-firmware', /runs firmware 6\.6\.6 .* matches no signed release/);
    expect(w.manager.state(MAINT).modules[0]!.knownRelease).toBe(false);
  });

  it('a restart without an update, and a rollback, raise momentary alarms that wait for an acknowledgement', async () => {
    w = moduleWorld();
    await w.pair('mod-1');
    w.beat('mod-1');
    w.modules.get('mod-1')!.boot = 2;
    w.beat('mod-1', { uptimeS: 1 });
    expectEverywhere('mod-1', 'im-1', 'unexpected-restart', /restarted \(boot 1 → 2\) without an update/, 'cleared-unacked');
    w.beat('mod-1', {
      rollbacks: [
        {
          at: w.clock.t,
          from: { slot: 'b', version: '1.1.0' },
          to: { slot: null, version: '1.0.0' },
          reason: 'health_timeout',
          detail: 'nobody read it',
          boot: 2,
        },
      ],
    });
    expectEverywhere('mod-1', 'im-1', 'rollback', /rolled back from 1\.1\.0 \(slot b\) to 1\.0\.0: health_timeout/, 'cleared-unacked');
  });

  it('a heartbeat signed by a wrong key is refused and raises an alarm; repeats only count up', async () => {
    w = moduleWorld();
    await w.pair('mod-1');
    const stranger = signingKeyPair();
    const r = w.beat('mod-1', {}, { keys: stranger, address: '10.0.0.66' });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error: { code: 'wrong_key' } });
    expectEverywhere(
      'mod-1',
      'im-1',
      'bad-heartbeat-signature',
      /signed by key .* not by its paired key .* \(from 10\.0\.0\.66\)/,
      'cleared-unacked',
    );
    for (let i = 0; i < 5; i++) w.beat('mod-1', {}, { keys: stranger });
    expect(audited('bad-heartbeat-signature')).toHaveLength(1);
    expect(w.health.filter((e) => e.kind === 'bad-heartbeat-signature')).toHaveLength(1);
    const ev = w.manager.state(MAINT).modules[0]!.events.find((e) => e.kind === 'bad-heartbeat-signature')!;
    expect(ev.message).toMatch(/\(6 times\)$/);
    // The module's own heartbeat still counts.
    expect(w.beat('mod-1').status).toBe(200);
  });

  it('a clock too far off is refused and raised until a heartbeat within bounds', async () => {
    w = moduleWorld({ maxClockSkewS: 30 });
    await w.pair('mod-1');
    const r = w.beat('mod-1', { time: w.clock.t + 300_000 });
    expect(r.status).toBe(422);
    expectEverywhere('mod-1', 'im-1', 'clock-skew', /300 s off/);
    w.beat('mod-1');
    expect(moduleAlarms('im-1')['clock-skew']).toBe('cleared-unacked');
  });

  it('missed heartbeats raise an alarm after missedAfterS, cleared by the next heartbeat', async () => {
    w = moduleWorld({ heartbeatS: 10 });
    await w.pair('mod-1');
    w.beat('mod-1');
    w.clock.t += 30_000;
    w.manager.tick();
    expect(moduleAlarms('im-1')['heartbeat-missed']).toBeUndefined();
    w.clock.t += 1_000;
    w.manager.tick();
    expectEverywhere('mod-1', 'im-1', 'heartbeat-missed', /no heartbeat for 31 s \(expected every 10 s\)/);
    w.beat('mod-1');
    expect(moduleAlarms('im-1')['heartbeat-missed']).toBe('cleared-unacked');
  });

  it('a setpoint that changed without a write through the console raises an alarm; one written through it does not', async () => {
    w = moduleWorld();
    await w.pair('mod-1');
    const p = w.pollers.get('im-1')!;
    p.emit(w.clock.t, 1, { 'zone1-sp': 200, 'zone2-sp': 210 });
    w.clock.t += 500;
    p.emit(w.clock.t, 1, { 'zone1-sp': 215, 'zone2-sp': 210 });
    w.clock.t += 4_000;
    w.manager.tick();
    expect(moduleAlarms('im-1')['setpoint-changed-outside']).toBeUndefined();
    w.clock.t += 1_500;
    w.manager.tick();
    expectEverywhere(
      'mod-1',
      'im-1',
      'setpoint-changed-outside',
      /Zone 1 setpoint changed from 200\.0 °C to 215\.0 °C without a write through the console/,
      'cleared-unacked',
    );
    // The same change with a logged write explains it.
    const n = audited('setpoint-changed-outside').length;
    const writes = (w.core.writes as unknown as { store: { append(e: unknown): void } }).store;
    writes.append({
      id: 'w1',
      machineId: 'im-1',
      pointId: 'zone2-sp',
      user: 'maria',
      at: w.clock.t,
      before: 210,
      requested: 212,
      readback: 212,
      outcome: 'written',
      code: null,
      reason: null,
      revertOf: null,
      unit: '°C',
    });
    w.clock.t += 500;
    p.emit(w.clock.t, 1, { 'zone1-sp': 215, 'zone2-sp': 212 });
    w.clock.t += 10_000;
    w.manager.tick();
    expect(audited('setpoint-changed-outside')).toHaveLength(n);
  });

  it('a module on no machine raises plant-level alarms; unpaired modules raise nothing', async () => {
    w = moduleWorld();
    await w.pair('stray');
    w.beat('stray', { tamper: { open: true, since: null } });
    const plant = w.core.alarms.alarms('_plant');
    expect(plant.map((a) => [a.kind, a.state, a.message])).toEqual([
      ['module', 'active-unacked', 'Module stray: Enclosure opened — the enclosure switch reports the cover open'],
    ]);
    expect(w.core.alarms.summary().counts).toEqual({ active: 1, unacknowledged: 1 });
    // A module that only asked to be paired: its heartbeats are refused and judge nothing.
    w.modules.set('mod-2', { keys: signingKeyPair(), seq: 0, boot: 1 });
    const r = w.beat('mod-2', { tamper: { open: true, since: null } });
    expect(r).toMatchObject({ status: 403, body: { error: { code: 'not_paired' } } });
    expect(moduleAlarms('im-2')).toEqual({});
  });

  it('a console restart continues a soaking rollout and does not blame the modules for its own downtime', async () => {
    w = moduleWorld({ heartbeatS: 10, soakS: 60 });
    await w.pair('mod-1');
    await w.pair('mod-2');
    w.beat('mod-1');
    w.beat('mod-2');
    w.pollers.get('im-1')!.emit(w.clock.t, 0);
    w.pollers.get('im-2')!.emit(w.clock.t, 0);
    const rel = await w.manager.importBundle(MAINT, {
      fileName: 'r.pcfw',
      dataBase64: Buffer.from(bundleOf(makeRelease({ version: '1.1.0' }, w.keys.slice(0, 2)))).toString('base64'),
    });
    const ro = await w.manager.approve(MAINT, { releaseId: rel.id, moduleIds: ['mod-1', 'mod-2'] });
    const offer = (w.beat('mod-1').body as { update?: { id: string } }).update;
    expect(offer?.id).toMatch(/^fw-1\.1\.0-/);
    w.modules.get('mod-1')!.boot = 2;
    const fw = { version: '1.1.0', blake2b512: rel.imageHash, slot: 'a' as const, trialBoot: 1 };
    w.beat('mod-1', { firmware: { ...fw, state: 'trial' } });
    w.beat('mod-1', { firmware: { ...fw, state: 'committed', trialBoot: 0 } });
    expect(w.manager.state(MAINT).rollouts[0]).toMatchObject({ id: ro.id, state: 'soaking' });
    // The console is down for 5 minutes; the soak (60 s) ended meanwhile.
    w.clock.t += 300_000;
    w.restart();
    w.manager.tick();
    expect(moduleAlarms('im-1')['heartbeat-missed']).toBeUndefined();
    expect(w.manager.state(MAINT).rollouts[0]).toMatchObject({ id: ro.id, state: 'rest' });
    expect(w.manager.state(MAINT).modules.find((m) => m.id === 'mod-2')!.update.state).toBe('downloading');
    // Modules silent after the restart are missed as usual.
    w.clock.t += 31_000;
    w.manager.tick();
    expect(moduleAlarms('im-1')['heartbeat-missed']).toBe('active-unacked');
    expect(w.manager.state(MAINT).rollouts[0]).toMatchObject({ state: 'rest' });
  });

  it('a pairing request with another key for a paired module is refused as a wrong key', async () => {
    const { signPairingRequest } = await import('../../src-main/modules/pairing');
    w = moduleWorld();
    await w.pair('mod-1');
    const r = w.manager.handlers.pair(
      signPairingRequest({ module: 'mod-1', model: 'im250', time: w.clock.t }, signingKeyPair()),
      '10.1.1.1',
    );
    expect(r.status).toBe(409);
    expect(moduleAlarms('im-1')['bad-heartbeat-signature']).toBe('cleared-unacked');
    expect(w.manager.registry.get('mod-1')!.pairing).toBe('paired');
  });
});
