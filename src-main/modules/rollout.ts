/**
 * Staged rollouts: one release to a set of modules, one module at a time. The first module
 * starts only while the maintenance window is open and its machine is idle; it downloads,
 * installs, reboots into a trial and reports the release committed (heartbeats: the release's
 * version and image hash, slot state committed); then it must stay healthy for `soakS` before
 * the next module starts, each again only in the window and while its machine is idle. A
 * module that fails, rolls back or times out stops the rollout with the reason; the modules
 * not yet started never start. Every step is saved (a restart continues from it) and audited.
 *
 *   waiting-window ──first starts──▶ first-module ──committed──▶ soaking ──healthy soakS──▶ rest ──all committed──▶ done
 *         │                               │                        │                        │
 *         └───────────── stop ────────────┴── fails / rolls back ──┴── unhealthy / fails ───┴──▶ stopped
 *
 * Pure logic over a host (clock, window, machine state, modules, persistence): the unit tests
 * drive it with a fake clock.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { ModuleUpdateState, Rollout } from '../../src-preload/contract';
import { ConsoleError } from '../core/errors';
import { FINISHED, IN_FLIGHT, type LastHeartbeat, type RolloutRecord, type Target } from './types';

/** What a rollout needs to know of the console around it. */
export interface RolloutHost {
  now(): number;
  /** The maintenance window now, and why it is closed in words. */
  window(): { open: boolean; why: string };
  /** Whether the module's machine is idle now (a module on no machine always is), and why not in words. */
  idle(moduleId: string): { idle: boolean; why: string };
  /** The module's last verified heartbeat and whether heartbeats still arrive. */
  module(moduleId: string): { last: LastHeartbeat | null; missed: boolean } | undefined;
  /** The release's image hash and size. */
  release(releaseId: string): { version: string; imageHash: string; size: number } | undefined;
  soakMs: number;
  updateTimeoutMs: number;
  maxSkewMs: number;
  save(r: RolloutRecord): void;
  /** A module's update ended (or started): audit, history, events. */
  outcome(r: RolloutRecord, t: Target, outcome: 'started' | 'committed' | 'rolled-back' | 'failed' | 'cancelled', message: string): void;
  /** The rollout as a whole ended. */
  ended(r: RolloutRecord, outcome: 'done' | 'stopped', message: string): void;
}

const ACTIVE: readonly Rollout['state'][] = ['waiting-window', 'first-module', 'soaking', 'rest'];

/** True while a rollout may still start or follow modules. */
export function isActive(r: RolloutRecord): boolean {
  return ACTIVE.includes(r.rollout.state);
}

/** Every rollout, driven by heartbeats and a timer. */
export class Rollouts {
  private readonly all: RolloutRecord[];

  constructor(
    private readonly host: RolloutHost,
    saved: readonly RolloutRecord[] = [],
  ) {
    this.all = saved.map((r) => structuredClone(r));
  }

  /** Every rollout, newest first. */
  list(): RolloutRecord[] {
    return [...this.all].sort((a, b) => b.rollout.approvedAt - a.rollout.approvedAt);
  }

  get(id: string): RolloutRecord | undefined {
    return this.all.find((r) => r.rollout.id === id);
  }

  /** The active rollout that includes a module, if any. */
  activeFor(moduleId: string): RolloutRecord | undefined {
    return this.all.find((r) => isActive(r) && r.targets.some((t) => t.moduleId === moduleId && !FINISHED.includes(t.state)));
  }

  /** The target of a module in its active rollout, or in any rollout it is still in flight in. */
  targetOf(moduleId: string): { r: RolloutRecord; t: Target } | undefined {
    for (const r of this.list()) {
      const t = r.targets.find((x) => x.moduleId === moduleId && (IN_FLIGHT.includes(x.state) || (isActive(r) && x.state === 'waiting')));
      if (t) return { r, t };
    }
    return undefined;
  }

  /** Starts a rollout of `releaseId` to `moduleIds` (the first one first); saved before it returns. */
  create(p: { releaseId: string; version: string; moduleIds: readonly string[]; approvedBy: string }): RolloutRecord {
    for (const id of p.moduleIds) {
      const other = this.activeFor(id);
      if (other)
        throw new ConsoleError(
          'BAD_REQUEST',
          `Module ${id} is in rollout ${other.rollout.id} (${other.rollout.version}) already: stop that one first`,
        );
    }
    const now = this.host.now();
    const token = (): string => randomBytes(16).toString('hex');
    const r: RolloutRecord = {
      rollout: {
        id: `ro-${randomUUID().slice(0, 8)}`,
        releaseId: p.releaseId,
        version: p.version,
        moduleIds: [...p.moduleIds],
        approvedBy: p.approvedBy,
        approvedAt: now,
        state: 'waiting-window',
        message: null,
        soakS: Math.round(this.host.soakMs / 1000),
      },
      targets: p.moduleIds.map((moduleId) => ({
        moduleId,
        state: 'waiting' as ModuleUpdateState,
        since: now,
        message: null,
        token: `${p.releaseId}.${token()}`,
        startedAt: null,
        bootAtStart: null,
        progressAtStart: null,
        bootAtCommit: null,
        transferred: 0,
        size: this.host.release(p.releaseId)?.size ?? 0,
      })),
      soakUntil: null,
    };
    this.all.push(r);
    this.host.save(r);
    this.step();
    return r;
  }

  /** Stops a rollout: modules not yet started never start, downloads are refused from now on. */
  stop(id: string, reason: string): RolloutRecord {
    const r = this.get(id);
    if (!r) throw new ConsoleError('NOT_FOUND', `No rollout "${id}"`);
    if (!isActive(r))
      throw new ConsoleError('BAD_REQUEST', `Rollout ${id} has ${r.rollout.state === 'done' ? 'finished' : 'stopped'} already`);
    this.end(r, reason);
    return r;
  }

  /** The download capability to hand a module in its heartbeat answer, while it should fetch. */
  offerFor(moduleId: string): string | null {
    const found = this.targetOf(moduleId);
    return found && isActive(found.r) && found.t.state === 'downloading' ? found.t.token : null;
  }

  /** The release a download capability opens for this module, or null. */
  releaseForToken(moduleId: string, token: string): string | null {
    const found = this.targetOf(moduleId);
    if (!found || !isActive(found.r) || found.t.token !== token || !['downloading', 'installing'].includes(found.t.state)) return null;
    return found.r.rollout.releaseId;
  }

  /** Whether a module is being updated now (a restart of it is expected). */
  updating(moduleId: string): boolean {
    const found = this.targetOf(moduleId);
    return found !== undefined && IN_FLIGHT.includes(found.t.state);
  }

  /** Follows a module's update from its verified heartbeat, then advances every rollout. */
  onHeartbeat(moduleId: string, hb: LastHeartbeat): void {
    const found = this.targetOf(moduleId);
    if (found && IN_FLIGHT.includes(found.t.state)) this.follow(found.r, found.t, hb);
    this.step();
  }

  /** Advances every active rollout (the timer and every heartbeat call it). */
  step(): void {
    for (const r of this.all) if (isActive(r)) this.advance(r);
  }

  private follow(r: RolloutRecord, t: Target, hb: LastHeartbeat): void {
    const rel = this.host.release(r.rollout.releaseId);
    if (!rel) return;
    const before = JSON.stringify(t);
    const runs = hb.firmware.blake2b512 === rel.imageHash && hb.firmware.version === rel.version;
    const startedAt = t.startedAt ?? 0;
    const rollback = hb.rollbacks.find((b) => b.from.version === rel.version && b.at >= startedAt - this.host.maxSkewMs);
    const progress = JSON.stringify(hb.update);
    const fresh = progress !== t.progressAtStart;
    if (runs && hb.firmware.state === 'committed') {
      this.set(t, 'committed', `committed ${rel.version} in slot ${hb.firmware.slot ?? '?'}`);
      t.bootAtCommit = hb.boot;
      this.host.outcome(r, t, 'committed', t.message ?? '');
    } else if (runs && hb.firmware.state === 'trial') {
      if (t.state !== 'trial') this.set(t, 'trial', `running ${rel.version} on trial (boot ${hb.firmware.trialBoot})`);
    } else if (rollback) {
      this.set(t, 'rolled-back', `rolled back to ${rollback.to.version}: ${rollback.reason} — ${rollback.detail}`);
      this.host.outcome(r, t, 'rolled-back', t.message ?? '');
    } else if (fresh && hb.update.state === 'refused') {
      this.set(t, 'failed', `the module refused ${rel.version}: ${hb.update.error ?? 'no reason given'}`);
      this.host.outcome(r, t, 'failed', t.message ?? '');
    } else if (fresh && hb.update.state === 'downloading' && hb.update.version === rel.version) {
      if (t.state !== 'downloading') this.set(t, 'downloading', null);
      t.transferred = hb.update.received;
      t.size = hb.update.total || t.size;
    } else if (fresh && hb.update.state === 'installing') {
      if (t.state !== 'installing') this.set(t, 'installing', `installing ${rel.version}`);
      t.transferred = t.size;
    } else if (fresh && hb.update.state === 'failed' && t.message !== hb.update.error) {
      // The module gives up after its attempts; offered again, it tries again, until the update times out.
      t.message = `download interrupted, retrying: ${hb.update.error ?? ''}`;
    }
    if (JSON.stringify(t) !== before) this.host.save(r);
  }

  private set(t: Target, state: ModuleUpdateState, message: string | null): void {
    t.state = state;
    t.since = this.host.now();
    t.message = message;
  }

  private start(r: RolloutRecord, t: Target): void {
    const m = this.host.module(t.moduleId);
    const rel = this.host.release(r.rollout.releaseId);
    if (m?.last && rel && m.last.firmware.blake2b512 === rel.imageHash && m.last.firmware.state === 'committed') {
      this.set(t, 'committed', `runs ${rel.version} already`);
      t.bootAtCommit = m.last.boot;
      this.host.outcome(r, t, 'committed', t.message ?? '');
      return;
    }
    this.set(t, 'downloading', null);
    t.startedAt = this.host.now();
    t.bootAtStart = m?.last?.boot ?? null;
    t.progressAtStart = m?.last ? JSON.stringify(m.last.update) : null;
    this.host.outcome(r, t, 'started', `update to ${r.rollout.version} started`);
  }

  /** Why a waiting module may not start now, or null when it may. */
  private blocked(t: Target): string | null {
    const w = this.host.window();
    if (!w.open) return w.why;
    const idle = this.host.idle(t.moduleId);
    if (!idle.idle) return idle.why;
    const m = this.host.module(t.moduleId);
    if (!m?.last || m.missed) return `module ${t.moduleId} does not report (no recent heartbeat)`;
    return null;
  }

  private advance(r: RolloutRecord): void {
    const before = JSON.stringify(r);
    const now = this.host.now();
    for (const t of r.targets) {
      if (IN_FLIGHT.includes(t.state) && t.startedAt !== null && now - t.startedAt > this.host.updateTimeoutMs) {
        this.set(
          t,
          'failed',
          `no committed ${r.rollout.version} within ${Math.round(this.host.updateTimeoutMs / 60_000)} min (${t.state} since ${new Date(t.since).toISOString()})`,
        );
        this.host.outcome(r, t, 'failed', t.message ?? '');
      }
    }
    const bad = r.targets.find((t) => t.state === 'failed' || t.state === 'rolled-back');
    if (bad) {
      this.end(r, `module ${bad.moduleId} ${bad.state === 'failed' ? 'failed' : 'rolled back'}: ${bad.message ?? ''}`);
      return;
    }
    const [first, ...rest] = r.targets;
    if (!first) return;
    if (first.state === 'waiting') {
      const why = this.blocked(first);
      if (why) r.rollout = { ...r.rollout, state: 'waiting-window', message: `waiting: ${why}` };
      else {
        this.start(r, first);
        r.rollout = { ...r.rollout, state: 'first-module', message: `updating ${first.moduleId} first` };
      }
    }
    if (first.state === 'committed' && r.soakUntil === null) {
      r.soakUntil = now + this.host.soakMs;
      r.rollout = {
        ...r.rollout,
        state: 'soaking',
        message: `${first.moduleId} committed; watching it for ${Math.round(this.host.soakMs / 1000)} s`,
      };
    }
    if (r.rollout.state === 'soaking') {
      const sick = this.unhealthy(r, first);
      if (sick) return this.end(r, `${first.moduleId} was not healthy during the soak: ${sick}`);
      if (now < (r.soakUntil ?? now)) return this.saveIf(r, before);
      r.rollout = { ...r.rollout, state: 'rest', message: null };
    }
    if (r.rollout.state === 'rest') {
      if (!rest.some((t) => IN_FLIGHT.includes(t.state))) {
        const next = rest.find((t) => t.state === 'waiting');
        if (!next) {
          r.rollout = { ...r.rollout, state: 'done', message: `${r.targets.length} module(s) run ${r.rollout.version}` };
          this.host.save(r);
          this.host.ended(r, 'done', r.rollout.message ?? '');
          return;
        }
        const why = this.blocked(next);
        if (why) r.rollout = { ...r.rollout, message: `${next.moduleId} waiting: ${why}` };
        else {
          this.start(r, next);
          r.rollout = { ...r.rollout, message: `updating ${next.moduleId}` };
        }
      }
    }
    this.saveIf(r, before);
  }

  /** Why the first module is not healthy during its soak, or null. */
  private unhealthy(r: RolloutRecord, t: Target): string | null {
    const m = this.host.module(t.moduleId);
    const rel = this.host.release(r.rollout.releaseId);
    if (!m?.last || !rel) return 'it is unknown';
    if (m.missed) return 'its heartbeats stopped';
    if (m.last.firmware.blake2b512 !== rel.imageHash || m.last.firmware.state !== 'committed')
      return `it runs ${m.last.firmware.version} (${m.last.firmware.state}) instead of ${rel.version}`;
    if (t.bootAtCommit !== null && m.last.boot > t.bootAtCommit) return 'it restarted';
    return null;
  }

  private end(r: RolloutRecord, reason: string): void {
    for (const t of r.targets) {
      if (t.state === 'waiting' || t.state === 'downloading') {
        this.set(t, 'cancelled', `rollout stopped: ${reason}`);
        this.host.outcome(r, t, 'cancelled', t.message ?? '');
      }
    }
    r.rollout = { ...r.rollout, state: 'stopped', message: reason };
    this.host.save(r);
    this.host.ended(r, 'stopped', reason);
  }

  private saveIf(r: RolloutRecord, before: string): void {
    if (JSON.stringify(r) !== before) this.host.save(r);
  }
}
