/**
 * What the audit log says about the configuration. Config is a file and nothing changes it at
 * runtime, so a change can only be seen between two starts: each start takes a snapshot of the
 * configuration as the core runs it (device profiles resolved: points, sensitivity classes,
 * writable limits, alarms, interlocks; writes; access; uplink), and compares it with the one
 * of the previous start (config-audit.ts keeps it in the store).
 *
 * The snapshot is plain JSON, hashed in its canonical form (RFC 8785), with devices, points and
 * alarms keyed by id so that a difference reads as a path a person can follow:
 * `devices[im-1].points.zone2-sp.writable.max: 240 → 260`. It never holds a secret: the schema
 * keeps none (the broker password is named by an environment variable), and members with
 * secret-sounding names are blanked should one ever be added.
 */
import { createHash } from 'node:crypto';
import type { AuditEntry } from '../audit/record';
import { canonicalJson, type Json } from '../protocol/canonical';
import type { PlantConfig, ResolvedDevice } from './schema';

/** A configuration as the audit log remembers it. */
export type ConfigSnapshot = { [key: string]: Json };

/** One readable difference; `machineId` when it lies under one device. */
export interface ConfigChange {
  machineId: string | null;
  path: string;
  line: string;
}

/** A point whose sensitivity class changed (`from` null: a new point that does not stay local). */
export interface ClassificationChange {
  machineId: string;
  pointId: string;
  pointName: string;
  from: string | null;
  to: string;
}

/** Shape version of the snapshot, so that a later build can tell an older snapshot apart. */
export const SNAPSHOT_FORMAT = 1;
/** Lines one config_changed record carries; the rest are counted. */
export const MAX_LINES_PER_RECORD = 100;
const MAX_VALUE_CHARS = 120;
const SECRET_NAMES = /^(password|passphrase|secret|secretkey|privatekey|token|apikey)$/i;
const BLANKED = '(not recorded)';

function toJson(value: unknown, key = ''): Json | undefined {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (SECRET_NAMES.test(key)) return BLANKED;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map((v) => toJson(v) ?? null);
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const j = toJson(v, k);
    if (j !== undefined) out[k] = j;
  }
  return out;
}

function byId(items: readonly { id: string }[]): { [id: string]: Json } {
  const out: { [id: string]: Json } = {};
  for (const { id, ...rest } of items) out[id] = toJson(rest) ?? null;
  return out;
}

function deviceSnapshot(d: ResolvedDevice): Json {
  const { id: _id, profileDef, ...device } = d;
  const { points, alarms, limits, ...profile } = profileDef;
  // The profile's own read limits are `profileLimits`: `limits` is the device's override.
  return toJson({ ...profile, ...device, profileLimits: limits, points: byId(points), alarms: byId(alarms) }) ?? null;
}

/** The snapshot of a loaded configuration (the file's path is not part of it). */
export function configSnapshot(config: PlantConfig): ConfigSnapshot {
  const { devices, source: _source, ...rest } = config;
  const top = toJson(rest) as ConfigSnapshot;
  const devs: { [id: string]: Json } = {};
  for (const d of devices) devs[d.id] = deviceSnapshot(d);
  return { format: SNAPSHOT_FORMAT, ...top, uplink: top.uplink ?? null, devices: devs };
}

/** SHA-256 of the snapshot's canonical JSON, lowercase hex. */
export function snapshotHash(snapshot: ConfigSnapshot): string {
  return createHash('sha256').update(canonicalJson(snapshot), 'utf8').digest('hex');
}

const isObject = (v: Json | undefined): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A value in a change line: strings bare, everything else as compact JSON, cut to a readable length. */
export function valueText(v: Json | undefined): string {
  if (v === undefined) return '(none)';
  const text = typeof v === 'string' ? (v === '' ? '""' : v) : JSON.stringify(v);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

function pathText(path: readonly string[]): string {
  let out = '';
  path.forEach((seg, i) => {
    if (i === 1 && path[0] === 'devices') out += `[${seg}]`;
    else out += i === 0 ? seg : `.${seg}`;
  });
  return out;
}

function walk(a: Json | undefined, b: Json | undefined, path: string[], out: ConfigChange[]): void {
  if (a !== undefined && b !== undefined && canonicalJson(a) === canonicalJson(b)) return;
  const machineId = path[0] === 'devices' && path.length > 1 ? path[1]! : null;
  if (isObject(a) && isObject(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) walk(a[k], b[k], [...path, k], out);
    return;
  }
  const p = pathText(path);
  // A whole device, point or alarm appearing or going reads better as one word than as its JSON.
  if (a === undefined && isObject(b)) out.push({ machineId, path: p, line: `${p}: added ${valueText(b)}` });
  else if (b === undefined && isObject(a)) out.push({ machineId, path: p, line: `${p}: removed` });
  else out.push({ machineId, path: p, line: `${p}: ${valueText(a)} → ${valueText(b)}` });
}

/** Every difference between two snapshots, in path order. */
export function diffSnapshots(before: ConfigSnapshot, after: ConfigSnapshot): ConfigChange[] {
  const out: ConfigChange[] = [];
  walk(before, after, [], out);
  return out;
}

type PointsOf = { [id: string]: Json };

function pointsOf(s: ConfigSnapshot | null, machineId: string): PointsOf | null {
  const devs = s?.devices;
  const dev = isObject(devs) ? devs[machineId] : undefined;
  const pts = isObject(dev) ? dev.points : undefined;
  return isObject(pts) ? pts : null;
}

/** Points whose sensitivity class changed, and new points that do not stay local. */
export function classificationChanges(before: ConfigSnapshot | null, after: ConfigSnapshot): ClassificationChange[] {
  const out: ClassificationChange[] = [];
  const devs = isObject(after.devices) ? after.devices : {};
  for (const machineId of Object.keys(devs).sort()) {
    const now = pointsOf(after, machineId) ?? {};
    const was = pointsOf(before, machineId);
    for (const pointId of Object.keys(now).sort()) {
      const p = now[pointId];
      if (!isObject(p)) continue;
      const to = typeof p.sensitivity === 'string' ? p.sensitivity : 'local';
      const old = was?.[pointId];
      const from = isObject(old) ? (typeof old.sensitivity === 'string' ? old.sensitivity : 'local') : null;
      if (from === to || (from === null && to === 'local')) continue;
      out.push({ machineId, pointId, pointName: typeof p.name === 'string' ? p.name : pointId, from, to });
    }
  }
  return out;
}

function countPoints(s: ConfigSnapshot): { points: number; sealed: number; plain: number } {
  let points = 0;
  let sealed = 0;
  let plain = 0;
  for (const machineId of Object.keys(isObject(s.devices) ? s.devices : {})) {
    for (const p of Object.values(pointsOf(s, machineId) ?? {})) {
      points++;
      if (isObject(p) && p.sensitivity === 'sealed') sealed++;
      if (isObject(p) && p.sensitivity === 'plain') plain++;
    }
  }
  return { points, sealed, plain };
}

/**
 * The audit entries for a start: `config_loaded` at the first (no previous snapshot); after
 * that nothing while the hash is unchanged, else one `config_changed` for the plant-wide
 * differences and one per machine that changed (so the audit page's machine filter finds it),
 * and one `classification_changed` per point whose class changed.
 */
export function configAuditEntries(
  previous: { snapshot: ConfigSnapshot; hash: string } | null,
  current: ConfigSnapshot,
  source: string,
): AuditEntry[] {
  const hash = snapshotHash(current);
  if (previous === null) {
    const devs = Object.keys(isObject(current.devices) ? current.devices : {});
    return [
      {
        kind: 'config_loaded',
        detail: {
          hash,
          source,
          machines: devs,
          ...countPoints(current),
          writesEnabled: isObject(current.writes) && current.writes.enabled === true,
          uplink: current.uplink !== null,
        },
      },
    ];
  }
  if (previous.hash === hash) return [];
  const groups = new Map<string | null, ConfigChange[]>();
  for (const c of diffSnapshots(previous.snapshot, current)) {
    const list = groups.get(c.machineId) ?? [];
    list.push(c);
    groups.set(c.machineId, list);
  }
  const entries: AuditEntry[] = [];
  const ordered = [...groups.keys()].sort((a, b) => (a === null ? -1 : b === null ? 1 : a.localeCompare(b)));
  for (const machineId of ordered) {
    const changes = groups.get(machineId)!;
    const lines = changes.slice(0, MAX_LINES_PER_RECORD).map((c) => c.line);
    entries.push({
      kind: 'config_changed',
      machineId,
      detail: {
        hash,
        previousHash: previous.hash,
        source,
        changes: lines,
        ...(changes.length > lines.length ? { more: changes.length - lines.length } : {}),
      },
    });
  }
  for (const c of classificationChanges(previous.snapshot, current)) {
    entries.push({
      kind: 'classification_changed',
      machineId: c.machineId,
      detail: {
        pointId: c.pointId,
        pointName: c.pointName,
        from: c.from,
        to: c.to,
        change: `${c.pointId}: ${c.from ?? '(new point)'} → ${c.to}`,
        hash,
      },
    });
  }
  return entries;
}
