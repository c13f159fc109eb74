/**
 * What a staged rollout (rollout.ts) sees of the console: the clock, the maintenance window in
 * the plant's time zone, whether a module's machine is idle, what the module last reported,
 * the release; and where its steps go: the store, the audit log (`firmware_update`), the
 * module's update history and the log.
 */
import type { AuditSink } from '../audit/record';
import type { Logger } from '../core/log';
import { missedAfterMs, type ModulesConfig } from './config';
import type { FirmwareLibrary } from './library';
import type { ModuleHost } from './manager';
import type { ModuleRegistry } from './registry';
import type { RolloutHost } from './rollout';
import type { ModuleStore } from './store';
import { MODULE_HISTORY_KEEP } from './types';
import { windowAt, windowText } from './window';

/** The rollout host over the manager's parts. */
export function rolloutHost(o: {
  config: ModulesConfig;
  host: ModuleHost;
  store: ModuleStore;
  audit?: AuditSink | undefined;
  log: Logger;
  registry: ModuleRegistry;
  library: FirmwareLibrary;
  machineOf(moduleId: string): string | null;
  changed(): void;
  /** When this console process started: silence before it is not the module's. */
  startedAt: number;
}): RolloutHost {
  const cfg = o.config;
  const tz = o.host.config.plant.timezone;
  return {
    now: () => o.host.clock.now(),
    window: () => {
      const w = windowAt(o.host.clock.now(), cfg.maintenanceWindow, tz);
      const next = w.nextOpen !== null ? `; it opens ${new Date(w.nextOpen).toISOString()}` : '';
      return { open: w.open, why: `the maintenance window (${windowText(cfg.maintenanceWindow)}) is closed${next}` };
    },
    idle: (moduleId) => {
      const machine = o.machineOf(moduleId);
      if (!machine) return { idle: true, why: '' };
      const state = o.host.machineState(machine) ?? 'offline';
      const name = o.host.config.devices.find((d) => d.id === machine)?.name ?? machine;
      return { idle: state === 'idle', why: `${name} is ${state}, not idle` };
    },
    module: (id) => {
      const m = o.registry.get(id);
      if (!m) return undefined;
      const now = o.host.clock.now();
      return { last: m.last, missed: now - Math.max(m.lastAt ?? 0, o.startedAt) > missedAfterMs(cfg) };
    },
    release: (id) => {
      const r = o.library.get(id)?.info;
      return r && { version: r.version, imageHash: r.imageHash, size: r.size };
    },
    soakMs: cfg.soakS * 1000,
    updateTimeoutMs: cfg.updateTimeoutS * 1000,
    maxSkewMs: cfg.maxClockSkewS * 1000,
    save: (r) => {
      o.store.saveRollout(r);
      o.changed();
    },
    outcome: (r, t, outcome, message) => {
      o.audit?.record({
        kind: 'firmware_update',
        machineId: o.machineOf(t.moduleId),
        detail: { rollout: r.rollout.id, release: r.rollout.releaseId, version: r.rollout.version, module: t.moduleId, outcome, message },
      });
      o.log.log(
        outcome === 'started' || outcome === 'committed' ? 'info' : 'warn',
        `Firmware ${r.rollout.version} on ${t.moduleId}: ${outcome} — ${message}`,
      );
      const m = o.registry.get(t.moduleId);
      if (m && outcome !== 'started') {
        o.registry.save({
          ...m,
          history: [...m.history, { at: o.host.clock.now(), version: r.rollout.version, outcome, message }].slice(-MODULE_HISTORY_KEEP),
        });
      }
    },
    ended: (r, outcome, message) => {
      o.audit?.record({
        kind: 'firmware_update',
        detail: { rollout: r.rollout.id, release: r.rollout.releaseId, version: r.rollout.version, outcome, message },
      });
      o.log.log(outcome === 'done' ? 'info' : 'warn', `Rollout ${r.rollout.id} of ${r.rollout.version} ${outcome}: ${message}`);
    },
  };
}
