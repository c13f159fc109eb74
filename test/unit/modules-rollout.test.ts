/**
 * The staged rollout state machine (src-main/modules/rollout.ts) on a fake host and clock: it
 * waits for the maintenance window and an idle machine, follows each module from heartbeats,
 * soaks the first one, stops with the reason when a module fails or rolls back (the rest never
 * start), and continues from what it saved after a restart.
 */
import { describe, expect, it } from 'vitest';
import { Rollouts, type RolloutHost } from '../../src-main/modules/rollout';
import type { LastHeartbeat, RolloutRecord, Target } from '../../src-main/modules/types';

const OLD = 'a'.repeat(128);
const NEW = 'b'.repeat(128);

function hb(moduleId: string, over: Partial<LastHeartbeat> & { fw?: Partial<LastHeartbeat['firmware']> } = {}): LastHeartbeat {
  const { fw, ...rest } = over;
  return {
    kind: 'plant-console/module-heartbeat/v1',
    module: moduleId,
    model: 'im250',
    boot: 1,
    seq: 1,
    time: 0,
    uptimeS: 10,
    firmware: { version: '1.0.0', blake2b512: OLD, slot: 'a', state: 'committed', trialBoot: 0, ...fw },
    rollbacks: [],
    tamper: { open: false, since: null },
    resources: { rssBytes: 1, heapUsedBytes: 1, cpuPercent: 1 },
    modbusClients: [],
    update: { state: 'idle', version: null, received: 0, total: 0, error: null },
    ...rest,
  };
}

function setup(saved: RolloutRecord[] = []) {
  const clock = { t: 1_000_000 };
  const world = {
    windowOpen: true,
    idle: new Map<string, boolean>(),
    modules: new Map<string, { last: LastHeartbeat | null; missed: boolean }>(),
    saved: new Map<string, RolloutRecord>(),
    outcomes: [] as string[],
    ended: [] as string[],
  };
  const host: RolloutHost = {
    now: () => clock.t,
    window: () => ({ open: world.windowOpen, why: 'the maintenance window (Sat 06:00–14:00) is closed' }),
    idle: (id) => ({ idle: world.idle.get(id) ?? true, why: `machine of ${id} is running, not idle` }),
    module: (id) => world.modules.get(id),
    release: (id) => (id === 'fw-1.1.0-x' ? { version: '1.1.0', imageHash: NEW, size: 1000 } : undefined),
    soakMs: 60_000,
    updateTimeoutMs: 600_000,
    maxSkewMs: 120_000,
    save: (r) => void world.saved.set(r.rollout.id, structuredClone(r)),
    outcome: (_r, t, outcome) => void world.outcomes.push(`${t.moduleId}:${outcome}`),
    ended: (_r, outcome) => void world.ended.push(outcome),
  };
  for (const id of ['m1', 'm2', 'm3']) world.modules.set(id, { last: hb(id), missed: false });
  const rollouts = new Rollouts(host, saved);
  /** The module reports `next` (its record and the rollout see it). */
  const report = (id: string, next: LastHeartbeat): void => {
    world.modules.set(id, { last: next, missed: false });
    rollouts.onHeartbeat(id, next);
  };
  return { clock, world, host, rollouts, report };
}

const state = (r: RolloutRecord | undefined, id: string): Target['state'] | undefined => r?.targets.find((t) => t.moduleId === id)?.state;

/** Walks a module through download, trial and commit of 1.1.0. */
function commit(s: ReturnType<typeof setup>, id: string, boot = 2): void {
  s.report(
    id,
    hb(id, { boot: boot - 1, seq: 5, update: { state: 'downloading', version: '1.1.0', received: 500, total: 1000, error: null } }),
  );
  s.report(id, hb(id, { boot, seq: 1, fw: { version: '1.1.0', blake2b512: NEW, slot: 'b', state: 'trial', trialBoot: 1 } }));
  s.report(id, hb(id, { boot, seq: 2, fw: { version: '1.1.0', blake2b512: NEW, slot: 'b', state: 'committed', trialBoot: 0 } }));
}

describe('staged rollout', () => {
  it('waits while the maintenance window is closed, then starts the first module only', () => {
    const s = setup();
    s.world.windowOpen = false;
    const r = s.rollouts.create({ releaseId: 'fw-1.1.0-x', version: '1.1.0', moduleIds: ['m1', 'm2'], approvedBy: 'maria' });
    expect(r.rollout.state).toBe('waiting-window');
    expect(r.rollout.message).toContain('maintenance window');
    expect(s.rollouts.offerFor('m1')).toBeNull();
    s.clock.t += 3_600_000;
    s.rollouts.step();
    expect(state(s.rollouts.get(r.rollout.id), 'm1')).toBe('waiting');
    s.world.windowOpen = true;
    s.rollouts.step();
    const now = s.rollouts.get(r.rollout.id)!;
    expect(now.rollout.state).toBe('first-module');
    expect(state(now, 'm1')).toBe('downloading');
    expect(state(now, 'm2')).toBe('waiting');
    expect(s.rollouts.offerFor('m1')).toMatch(/^fw-1\.1\.0-x\.[0-9a-f]{32}$/);
    expect(s.rollouts.offerFor('m2')).toBeNull();
    expect(s.world.outcomes).toEqual(['m1:started']);
  });

  it('waits while the first module’s machine runs', () => {
    const s = setup();
    s.world.idle.set('m1', false);
    const r = s.rollouts.create({ releaseId: 'fw-1.1.0-x', version: '1.1.0', moduleIds: ['m1', 'm2'], approvedBy: 'maria' });
    expect(r.rollout.state).toBe('waiting-window');
    expect(r.rollout.message).toContain('running, not idle');
    s.rollouts.step();
    expect(state(s.rollouts.get(r.rollout.id), 'm1')).toBe('waiting');
    s.world.idle.set('m1', true);
    s.rollouts.step();
    expect(state(s.rollouts.get(r.rollout.id), 'm1')).toBe('downloading');
  });

  it('follows the first module to committed, soaks it, then updates the rest one at a time', () => {
    const s = setup();
    const r = s.rollouts.create({ releaseId: 'fw-1.1.0-x', version: '1.1.0', moduleIds: ['m1', 'm2', 'm3'], approvedBy: 'maria' });
    const id = r.rollout.id;
    s.report('m1', hb('m1', { seq: 2, update: { state: 'downloading', version: '1.1.0', received: 400, total: 1000, error: null } }));
    expect(s.rollouts.get(id)!.targets[0]!.transferred).toBe(400);
    s.report('m1', hb('m1', { seq: 3, update: { state: 'installing', version: '1.1.0', received: 1000, total: 1000, error: null } }));
    expect(state(s.rollouts.get(id), 'm1')).toBe('installing');
    expect(s.rollouts.updating('m1')).toBe(true);
    s.report('m1', hb('m1', { boot: 2, seq: 1, fw: { version: '1.1.0', blake2b512: NEW, slot: 'b', state: 'trial', trialBoot: 1 } }));
    expect(state(s.rollouts.get(id), 'm1')).toBe('trial');
    expect(s.rollouts.offerFor('m1')).toBeNull();
    s.report('m1', hb('m1', { boot: 2, seq: 2, fw: { version: '1.1.0', blake2b512: NEW, slot: 'b', state: 'committed', trialBoot: 0 } }));
    let now = s.rollouts.get(id)!;
    expect(state(now, 'm1')).toBe('committed');
    expect(now.rollout.state).toBe('soaking');
    expect(now.soakUntil).toBe(s.clock.t + 60_000);
    s.clock.t += 59_000;
    s.rollouts.step();
    expect(state(s.rollouts.get(id), 'm2')).toBe('waiting');
    s.clock.t += 2_000;
    s.rollouts.step();
    now = s.rollouts.get(id)!;
    expect(now.rollout.state).toBe('rest');
    expect(state(now, 'm2')).toBe('downloading');
    expect(state(now, 'm3')).toBe('waiting');
    commit(s, 'm2');
    expect(state(s.rollouts.get(id), 'm3')).toBe('downloading');
    commit(s, 'm3');
    now = s.rollouts.get(id)!;
    expect(now.rollout.state).toBe('done');
    expect(s.world.ended).toEqual(['done']);
    expect(s.world.outcomes).toEqual(['m1:started', 'm1:committed', 'm2:started', 'm2:committed', 'm3:started', 'm3:committed']);
  });

  it('stops when the first module rolls back: the rest never start', () => {
    const s = setup();
    const r = s.rollouts.create({ releaseId: 'fw-1.1.0-x', version: '1.1.0', moduleIds: ['m1', 'm2', 'm3'], approvedBy: 'maria' });
    s.report('m1', hb('m1', { boot: 2, seq: 1, fw: { version: '1.1.0', blake2b512: NEW, slot: 'b', state: 'trial', trialBoot: 1 } }));
    s.report(
      'm1',
      hb('m1', {
        boot: 3,
        seq: 1,
        rollbacks: [
          {
            at: s.clock.t,
            from: { slot: 'b', version: '1.1.0' },
            to: { slot: 'a', version: '1.0.0' },
            reason: 'self_test_failed',
            detail: 'the self-test failed',
            boot: 2,
          },
        ],
      }),
    );
    const now = s.rollouts.get(r.rollout.id)!;
    expect(now.rollout.state).toBe('stopped');
    expect(now.rollout.message).toMatch(/m1 rolled back: rolled back to 1\.0\.0: self_test_failed/);
    expect(state(now, 'm1')).toBe('rolled-back');
    expect(state(now, 'm2')).toBe('cancelled');
    expect(state(now, 'm3')).toBe('cancelled');
    s.clock.t += 3_600_000;
    s.rollouts.step();
    expect(s.world.outcomes).not.toContain('m2:started');
    expect(s.rollouts.offerFor('m2')).toBeNull();
    expect(s.world.ended).toEqual(['stopped']);
  });

  it('stops when the module refuses the release, but not for a refusal it reported before', () => {
    const s = setup();
    s.world.modules.set('m1', {
      last: hb('m1', { update: { state: 'refused', version: null, received: 0, total: 0, error: 'an older refusal' } }),
      missed: false,
    });
    const r = s.rollouts.create({ releaseId: 'fw-1.1.0-x', version: '1.1.0', moduleIds: ['m1', 'm2'], approvedBy: 'maria' });
    s.report('m1', hb('m1', { seq: 2, update: { state: 'refused', version: null, received: 0, total: 0, error: 'an older refusal' } }));
    expect(state(s.rollouts.get(r.rollout.id), 'm1')).toBe('downloading');
    s.report(
      'm1',
      hb('m1', { seq: 3, update: { state: 'refused', version: null, received: 0, total: 0, error: 'wrong_model: not for im250' } }),
    );
    const now = s.rollouts.get(r.rollout.id)!;
    expect(now.rollout.state).toBe('stopped');
    expect(state(now, 'm1')).toBe('failed');
    expect(now.rollout.message).toContain('wrong_model');
  });

  it('stops when the first module restarts during its soak', () => {
    const s = setup();
    const r = s.rollouts.create({ releaseId: 'fw-1.1.0-x', version: '1.1.0', moduleIds: ['m1', 'm2'], approvedBy: 'maria' });
    commit(s, 'm1');
    expect(s.rollouts.get(r.rollout.id)!.rollout.state).toBe('soaking');
    s.clock.t += 10_000;
    s.report('m1', hb('m1', { boot: 3, seq: 1, fw: { version: '1.1.0', blake2b512: NEW, slot: 'b', state: 'committed', trialBoot: 0 } }));
    const now = s.rollouts.get(r.rollout.id)!;
    expect(now.rollout.state).toBe('stopped');
    expect(now.rollout.message).toContain('restarted');
    expect(state(now, 'm2')).toBe('cancelled');
  });

  it('fails a module that does not commit within the update timeout', () => {
    const s = setup();
    const r = s.rollouts.create({ releaseId: 'fw-1.1.0-x', version: '1.1.0', moduleIds: ['m1'], approvedBy: 'maria' });
    s.clock.t += 600_001;
    s.rollouts.step();
    const now = s.rollouts.get(r.rollout.id)!;
    expect(state(now, 'm1')).toBe('failed');
    expect(now.rollout.state).toBe('stopped');
    expect(now.rollout.message).toContain('within 10 min');
  });

  it('firmware.stop cancels what has not started and refuses downloads from then on', () => {
    const s = setup();
    const r = s.rollouts.create({ releaseId: 'fw-1.1.0-x', version: '1.1.0', moduleIds: ['m1', 'm2'], approvedBy: 'maria' });
    const token = s.rollouts.offerFor('m1')!;
    expect(s.rollouts.releaseForToken('m1', token)).toBe('fw-1.1.0-x');
    expect(s.rollouts.releaseForToken('m1', `${token.slice(0, -1)}0`)).toBeNull();
    expect(s.rollouts.releaseForToken('m2', token)).toBeNull();
    s.rollouts.stop(r.rollout.id, 'stopped by maria: wrong release');
    expect(s.rollouts.releaseForToken('m1', token)).toBeNull();
    expect(state(s.rollouts.get(r.rollout.id), 'm2')).toBe('cancelled');
    expect(() => s.rollouts.stop(r.rollout.id, 'again')).toThrow(/stopped already/);
  });

  it('refuses a module that is in another active rollout', () => {
    const s = setup();
    s.rollouts.create({ releaseId: 'fw-1.1.0-x', version: '1.1.0', moduleIds: ['m1'], approvedBy: 'maria' });
    expect(() => s.rollouts.create({ releaseId: 'fw-1.1.0-x', version: '1.1.0', moduleIds: ['m2', 'm1'], approvedBy: 'maria' })).toThrow(
      /m1 is in rollout/,
    );
  });

  it('continues after a restart from what it saved: the soak ends at its saved time', () => {
    const a = setup();
    const r = a.rollouts.create({ releaseId: 'fw-1.1.0-x', version: '1.1.0', moduleIds: ['m1', 'm2'], approvedBy: 'maria' });
    commit(a, 'm1');
    const soakUntil = a.rollouts.get(r.rollout.id)!.soakUntil!;
    // A new console process: only the saved records survive.
    const b = setup([...a.world.saved.values()]);
    b.clock.t = a.clock.t + 30_000;
    b.world.modules.set('m1', a.world.modules.get('m1')!);
    b.rollouts.step();
    expect(b.rollouts.get(r.rollout.id)!.rollout.state).toBe('soaking');
    expect(b.rollouts.get(r.rollout.id)!.soakUntil).toBe(soakUntil);
    b.clock.t = soakUntil + 1;
    b.rollouts.step();
    const now = b.rollouts.get(r.rollout.id)!;
    expect(now.rollout.state).toBe('rest');
    expect(state(now, 'm2')).toBe('downloading');
    expect(b.rollouts.offerFor('m2')).toBe(now.targets[1]!.token);
  });

  it('marks a module that runs the release already as committed without a download', () => {
    const s = setup();
    s.world.modules.set('m1', {
      last: hb('m1', { fw: { version: '1.1.0', blake2b512: NEW, slot: 'b', state: 'committed', trialBoot: 0 } }),
      missed: false,
    });
    const r = s.rollouts.create({ releaseId: 'fw-1.1.0-x', version: '1.1.0', moduleIds: ['m1'], approvedBy: 'maria' });
    expect(state(r, 'm1')).toBe('committed');
    expect(r.rollout.state).toBe('soaking');
  });
});
