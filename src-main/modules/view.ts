/**
 * The Modules page's view of a module (src-preload/contract/firmware.ts ModuleView): pairing,
 * health in one word, what it runs and whether that is a signed release the console knows, its
 * update in the current (or last) rollout, its update history and its events.
 */
import type { ModuleEvent, ModuleView } from '../../src-preload/contract';
import { EVENT_PRIORITY, MOMENTARY } from './events';
import type { ModuleRecord, RolloutRecord, StoredEvent, Target } from './types';

/** A recent momentary event keeps a module's health at `warning` this long. */
const RECENT_MS = 60 * 60_000;

/** Health in one word: unknown (not paired or never heard), alarm, warning or ok. */
export function healthOf(
  m: ModuleRecord,
  active: readonly StoredEvent[],
  recent: readonly StoredEvent[],
  now: number,
): ModuleView['health'] {
  if (m.pairing !== 'paired' || !m.last) return 'unknown';
  if (active.some((e) => EVENT_PRIORITY[e.kind] === 'critical' || EVENT_PRIORITY[e.kind] === 'high')) return 'alarm';
  if (active.length > 0) return 'warning';
  if (recent.some((e) => MOMENTARY.includes(e.kind) && now - e.at < RECENT_MS)) return 'warning';
  return 'ok';
}

/** The module's part of a rollout as the page shows it. */
export function updateOf(found: { r: RolloutRecord; t: Target } | undefined): ModuleView['update'] {
  if (!found) return { state: 'none', releaseId: null, version: null, transferred: 0, size: 0, message: null, since: null };
  const { r, t } = found;
  return {
    state: t.state,
    releaseId: r.rollout.releaseId,
    version: r.rollout.version,
    transferred: t.transferred,
    size: t.size,
    message: t.message ?? (t.state === 'waiting' ? r.rollout.message : null),
    since: t.since,
  };
}

/** A module as the Modules page shows it. */
export function moduleView(p: {
  record: ModuleRecord;
  machineId: string | null;
  events: readonly StoredEvent[];
  knownImage: (hash: string) => boolean;
  rollout: { r: RolloutRecord; t: Target } | undefined;
  now: number;
}): ModuleView {
  const m = p.record;
  const hb = m.last;
  const active = p.events.filter((e) => e.active);
  const events: ModuleEvent[] = p.events.map(({ count, ...e }) => (count > 1 ? { ...e, message: `${e.message} (${count} times)` } : e));
  return {
    id: m.id,
    machineId: p.machineId,
    model: m.model,
    pairing: m.pairing,
    fingerprint: m.fingerprint,
    health: healthOf(m, active, p.events, p.now),
    lastHeartbeatAt: m.lastAt,
    version: hb?.firmware.version ?? null,
    imageHash: hb?.firmware.blake2b512 ?? null,
    knownRelease: hb ? hb.firmware.state === 'factory' || p.knownImage(hb.firmware.blake2b512) : false,
    slot: hb?.firmware.slot ?? null,
    bootCount: hb?.boot ?? null,
    uptimeS: hb?.uptimeS ?? null,
    tamper: hb?.tamper.open ?? false,
    modbusClients: hb?.modbusClients ?? [],
    update: updateOf(p.rollout),
    history: [...m.history].reverse(),
    events,
  };
}
