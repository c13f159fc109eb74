/**
 * What the module channel's requests do (channel.ts routes them here): pairing requests are
 * recorded as pending; heartbeats are verified against the paired key, judged for threats
 * (threats.ts) and for the progress of the module's update (rollout.ts), and answered with what
 * the module should do: confirm a trial's health, fetch an approved update, pin a rotated root.
 * Downloads are served only to a paired module, only from the address its last verified
 * heartbeat came from, and only the release approved for it, named by the capability its
 * heartbeat answer carried.
 */
import type { ModuleEventKind } from '../../src-preload/contract';
import type { Logger } from '../core/log';
import type { Answer, ChannelHandlers, ImageSource } from './channel';
import type { ModuleEvents } from './events';
import type { FirmwareLibrary } from './library';
import type { ModuleRegistry, Refused } from './registry';
import type { PinnedRoot } from './root';
import type { Rollouts } from './rollout';
import type { SetpointWatch } from './setpoint-watch';
import { conditionsOf, eventsBetween, type Conditions } from './threats';

export interface IntakeParts {
  registry: ModuleRegistry;
  events: ModuleEvents;
  rollouts: Rollouts;
  library: FirmwareLibrary;
  watch: SetpointWatch;
  root(): PinnedRoot;
  machineOf(moduleId: string): string | null;
  /** Whether the console read the module's machine after `since` (a trial may then commit). */
  readSince(moduleId: string, since: number): boolean;
  now(): number;
  consoleAddresses: ReadonlySet<string>;
  log: Logger;
  changed(): void;
}

const CONDITIONS: readonly (keyof Conditions)[] = ['unknown-firmware', 'tamper', 'foreign-modbus-client'];

function refusal(r: Refused | { status: number; code: string; message: string }): Answer {
  return { status: r.status, body: { error: { code: r.code, message: r.message } } };
}

/** The channel's handlers over the manager's parts. */
export function channelHandlers(p: IntakeParts): ChannelHandlers {
  /** When the console first saw each module's current trial boot: only a read after it confirms the trial. */
  const trialSeen = new Map<string, { boot: number; at: number }>();

  /** The release a download request may fetch, or the refusal. */
  const approved = (moduleId: string, id: string, address: string): { releaseId: string } | Answer => {
    const m = p.registry.get(moduleId);
    if (!m || m.pairing !== 'paired') return refusal({ status: 403, code: 'not_paired', message: `module ${moduleId} is not paired` });
    if (m.address !== address)
      return refusal({
        status: 403,
        code: 'wrong_source',
        message: `downloads for ${moduleId} must come from ${m.address ?? 'its heartbeats’ address'}, not ${address}`,
      });
    const releaseId = p.rollouts.releaseForToken(moduleId, id);
    if (!releaseId || !p.library.get(releaseId))
      return refusal({ status: 404, code: 'not_approved', message: `no update ${id.slice(0, 40)} is approved for module ${moduleId} now` });
    return { releaseId };
  };

  return {
    pair(doc, address) {
      const r = p.registry.pairRequest(doc, address);
      if (!r.ok) {
        if (r.code === 'key_conflict' && r.moduleId) p.events.momentary(r.moduleId, 'bad-heartbeat-signature', r.message);
        return refusal(r);
      }
      if (r.created) p.changed();
      return { status: 200, body: r.answer };
    },

    heartbeat(moduleId, doc, address) {
      const v = p.registry.heartbeat(moduleId, doc, address);
      if (!v.ok) {
        if (v.moduleId && v.code === 'clock_skew') p.events.raise(v.moduleId, 'clock-skew', v.message);
        else if (v.moduleId && (v.code === 'wrong_key' || v.code === 'bad_signature'))
          p.events.momentary(v.moduleId, 'bad-heartbeat-signature', `${v.message} (from ${address})`);
        return refusal(v);
      }
      const m = v.record;
      const hb = m.last!;
      p.events.clear(m.id, 'clock-skew', `clock within bounds again (${Math.round(v.skewMs / 1000)} s off)`);
      p.events.clear(m.id, 'heartbeat-missed', 'heartbeats arrive again');
      const updating = p.rollouts.updating(m.id);
      const ctx = { knownImage: (h: string) => p.library.knownImage(h), consoleAddresses: p.consoleAddresses, updating };
      for (const f of eventsBetween(v.prev, hb, ctx)) p.events.momentary(m.id, f.kind, f.message);
      const found = conditionsOf(hb, ctx);
      for (const kind of CONDITIONS) {
        const message = found[kind];
        if (message) p.events.raise(m.id, kind as ModuleEventKind, message);
        else p.events.clear(m.id, kind as ModuleEventKind);
      }
      // The machine restarts with its update: what it held before is no baseline any more.
      const machine = p.machineOf(m.id);
      if (updating && machine && v.prev && hb.boot > v.prev.boot) p.watch.forget(machine);
      p.rollouts.onHeartbeat(m.id, hb);
      const answer: { confirmHealth?: boolean; update?: { id: string }; root?: { root: string; signatures: string[] } } = {};
      if (hb.firmware.state === 'trial') {
        const seen = trialSeen.get(m.id);
        const since = seen?.boot === hb.boot ? seen.at : p.now();
        trialSeen.set(m.id, { boot: hb.boot, at: since });
        if (p.readSince(m.id, since)) answer.confirmHealth = true;
      } else trialSeen.delete(m.id);
      const offer = p.rollouts.offerFor(m.id);
      if (offer) answer.update = { id: offer };
      const rot = p.root().rotation;
      if (rot) answer.root = { root: rot.root.toString('base64'), signatures: rot.signatures };
      p.changed();
      return { status: 200, body: answer };
    },

    manifest(moduleId, id, address) {
      const a = approved(moduleId, id, address);
      if ('status' in a) return a;
      const rel = p.library.get(a.releaseId)!;
      return { status: 200, body: { manifest: rel.manifest.toString('base64'), signatures: rel.signatures } };
    },

    image(moduleId, id, address): ImageSource | Answer {
      const a = approved(moduleId, id, address);
      if ('status' in a) return a;
      const rel = p.library.get(a.releaseId)!;
      p.log.log('debug', `Module ${moduleId} downloads ${rel.info.version}`, { release: rel.info.id });
      return { size: rel.info.size, read: (start, end) => p.library.read(rel.info.id, start, end) };
    },
  };
}
