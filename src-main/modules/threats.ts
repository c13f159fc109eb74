/**
 * What a verified heartbeat tells about a module's health and safety, compared with the one
 * before it. Two sorts of finding: conditions, which hold while the heartbeats say so (firmware
 * that matches no signed release, the enclosure open, a Modbus client besides the console), and
 * momentary events (a restart nobody asked for, a rollback). Missed heartbeats, wrong keys and
 * clock skew are judged where heartbeats arrive (channel and manager), setpoints changed behind
 * the console's back by setpoint-watch.ts. Pure.
 */
import type { ModuleEventKind } from '../../src-preload/contract';
import type { LastHeartbeat } from './types';

/** A finding: the event kind, in words. */
export interface Finding {
  kind: ModuleEventKind;
  message: string;
}

/** What the judgement needs besides the two heartbeats. */
export interface ThreatContext {
  /** True when a signed release this console holds (or held) has this image hash. */
  knownImage(blake2b512: string): boolean;
  /** Addresses the console polls from: any other Modbus client on the module is foreign. */
  consoleAddresses: ReadonlySet<string>;
  /** True while a rollout updates this module (its restarts are expected). */
  updating: boolean;
}

/** The conditions a heartbeat shows; kinds not listed are not (or no longer) present. */
export interface Conditions {
  'unknown-firmware': string | null;
  tamper: string | null;
  'foreign-modbus-client': string | null;
}

/** "10.0.0.9:50122" → "10.0.0.9"; "[::1]:502" and "::ffff:10.0.0.9:5" too. */
export function clientHost(client: string): string {
  let host = client.startsWith('[') ? client.slice(1, client.indexOf(']')) : client.slice(0, Math.max(0, client.lastIndexOf(':')));
  if (host.startsWith('::ffff:')) host = host.slice(7);
  return host || client;
}

const short = (hash: string): string => `${hash.slice(0, 16)}…`;

/** The conditions of one heartbeat. */
export function conditionsOf(hb: LastHeartbeat, ctx: ThreatContext): Conditions {
  const fw = hb.firmware;
  const unknown =
    fw.state !== 'factory' && !ctx.knownImage(fw.blake2b512)
      ? `runs firmware ${fw.version} (image ${short(fw.blake2b512)}, slot ${fw.slot ?? '—'}) that matches no signed release this console knows`
      : null;
  // The event keeps its own time: the words say only what happened.
  const tamper = hb.tamper.open ? 'the enclosure switch reports the cover open' : null;
  const foreign = hb.modbusClients.filter((c) => !ctx.consoleAddresses.has(clientHost(c)));
  return {
    'unknown-firmware': unknown,
    tamper,
    'foreign-modbus-client': foreign.length
      ? `Modbus client${foreign.length > 1 ? 's' : ''} ${foreign.join(', ')} connected besides the console`
      : null,
  };
}

/** Momentary events between two heartbeats: restarts nobody asked for, and new rollbacks. */
export function eventsBetween(prev: LastHeartbeat | null, next: LastHeartbeat, ctx: ThreatContext): Finding[] {
  if (!prev) return [];
  const out: Finding[] = [];
  const restarted = next.boot > prev.boot || (next.boot === prev.boot && next.uptimeS + 5 < prev.uptimeS);
  if (restarted && !ctx.updating) {
    out.push({
      kind: 'unexpected-restart',
      message:
        next.boot > prev.boot
          ? `restarted (boot ${prev.boot} → ${next.boot}) without an update`
          : `its uptime went back from ${Math.round(prev.uptimeS)} s to ${Math.round(next.uptimeS)} s without an update`,
    });
  }
  const seen = new Set(prev.rollbacks.map((r) => `${r.at}/${r.boot}`));
  for (const r of next.rollbacks) {
    if (seen.has(`${r.at}/${r.boot}`)) continue;
    out.push({
      kind: 'rollback',
      message: `rolled back from ${r.from.version} (${r.from.slot ? `slot ${r.from.slot}` : 'factory'}) to ${r.to.version}: ${r.reason} — ${r.detail}`,
    });
  }
  return out;
}
