/**
 * Words of the Modules page: a module's health, firmware, heartbeat age, update and threat
 * events, a release's signatures and expiry, a rollout's state and plan, and the fingerprint
 * to compare, so that maintenance reads the page without knowing the bundle format or the
 * words of the update protocol ("signed by 2 of 3 supplier release keys", never "k-of-n").
 */
import type {
  CallerRole,
  FirmwareRefusalCode,
  FirmwareRelease,
  ModuleEventKind,
  ModuleView,
  ModulesState,
  Rollout,
} from '../../../src-preload/contract';
import { FIRMWARE_UPLOAD_MAX_BYTES } from '../../../src-preload/channels';
import { formatAgo, formatDateTime } from '../lib/format';

/**
 * Roles that may pair and update (modules.pair, firmware.*) and read (modules.list). Kept here
 * rather than read from the contract's COMMANDS, whose schemas would pull zod into the
 * renderer; a unit test keeps them equal.
 */
export const MODULE_ACT_ROLES: readonly CallerRole[] = ['maintenance', 'admin'];
export const MODULE_READ_ROLES: readonly CallerRole[] = ['operator', 'maintenance', 'admin', 'viewer'];

/** A bundle file larger than this is refused by the console (firmware.import, the upload); checked before sending it. */
export const MAX_BUNDLE_BYTES = FIRMWARE_UPLOAD_MAX_BYTES;

/** How much of an upload went, in whole percent (100 only once every byte did). */
export function uploadPercent(p: { sent: number; total: number }): number {
  if (!(p.total > 0)) return 0;
  return Math.max(0, Math.min(100, Math.floor((p.sent * 100) / p.total)));
}

/** "Uploading im250-1.1.0.pcfw: 12.4 MB of 20.9 MB (59 %)", then what the console does with it. */
export function uploadText(p: { fileName: string; sent: number; total: number }): string {
  const pct = uploadPercent(p);
  if (pct < 100) return `Uploading ${p.fileName}: ${sizeText(p.sent)} of ${sizeText(p.total)} (${pct} %)`;
  return `Uploaded ${p.fileName}: ${sizeText(p.total)} (100 %). Checking signatures, expiry, model, size and image…`;
}

/**
 * Modules send a heartbeat every 10 s; past this age the page shows it as missed even before the
 * console's own alarm arrives (the console raises "heartbeat-missed" by its own rule).
 */
export const HEARTBEAT_LATE_MS = 35_000;

/** Why the page is read-only for this role, or null when it may act. */
export function actBlockedReason(role: CallerRole | undefined): string | null {
  if (role === undefined) return 'Loading…';
  if (MODULE_ACT_ROLES.includes(role)) return null;
  return 'Read only: maintenance pairs modules and approves firmware updates.';
}

export type Tone = 'ok' | 'warn' | 'alarm' | 'unknown';

/** Health in a word with its tone (the badge adds the shape). */
export function healthWords(health: ModuleView['health']): { word: string; tone: Tone } {
  switch (health) {
    case 'ok':
      return { word: 'HEALTHY', tone: 'ok' };
    case 'warning':
      return { word: 'WARNING', tone: 'warn' };
    case 'alarm':
      return { word: 'ALARM', tone: 'alarm' };
    case 'unknown':
      return { word: 'NO REPORT', tone: 'unknown' };
  }
}

/** True when the last heartbeat is missing or late: the console said so, or it is older than HEARTBEAT_LATE_MS. */
export function heartbeatMissed(m: Pick<ModuleView, 'lastHeartbeatAt' | 'events'>, now: number): boolean {
  if (m.events.some((e) => e.active && e.kind === 'heartbeat-missed')) return true;
  return m.lastHeartbeatAt !== null && now - m.lastHeartbeatAt > HEARTBEAT_LATE_MS;
}

/** "12 s ago", "no heartbeat for 2 min", "never". */
export function heartbeatText(m: Pick<ModuleView, 'lastHeartbeatAt' | 'events'>, now: number): string {
  if (m.lastHeartbeatAt === null) return 'none received yet';
  const ago = formatAgo(m.lastHeartbeatAt, now);
  if (!heartbeatMissed(m, now)) return ago;
  return `MISSED: last one ${ago}`;
}

/** "1.0.0, signed release", "1.0.0, factory firmware", "1.0.0 — unknown firmware!", "not reported yet". */
export function firmwareText(m: Pick<ModuleView, 'version' | 'knownRelease' | 'slot'>): { text: string; alarm: boolean } {
  if (m.version === null) return { text: 'not reported yet', alarm: false };
  // No slot: the image built into the module at manufacture, which no release bundle carries.
  if (m.knownRelease && m.slot === null) return { text: `${m.version}, factory firmware`, alarm: false };
  if (m.knownRelease) return { text: `${m.version}, signed release`, alarm: false };
  return { text: `${m.version} — unknown firmware!`, alarm: true };
}

/** "Slot A, 3 boots", "factory image". */
export function slotText(m: Pick<ModuleView, 'slot' | 'bootCount'>): string {
  const slot = m.slot === null ? 'factory image' : `Slot ${m.slot.toUpperCase()}`;
  if (m.bootCount === null) return slot;
  return `${slot}, ${m.bootCount} ${m.bootCount === 1 ? 'boot' : 'boots'}`;
}

/** The module's key fingerprint in groups of four ("3f1a 09bc …"), as the module prints it. */
export function fingerprintGroups(fp: string): string[] {
  const clean = fp.replace(/[^0-9A-Za-z]/g, '');
  return clean.match(/.{1,4}/g) ?? [];
}

/** A size in bytes for people: "480 bytes", "12.3 kB", "2.4 MB". */
export function sizeText(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1000) return `${Math.round(bytes)} bytes`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/** A span of seconds in round words: "45 s", "10 min", "1 h 30 min". */
export function spanText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
}

/** 0..100, whole percent, of an update's transfer; null when the size is not known. */
export function transferPercent(u: Pick<ModuleView['update'], 'transferred' | 'size'>): number | null {
  if (u.size <= 0) return null;
  return Math.max(0, Math.min(100, Math.floor((u.transferred / u.size) * 100)));
}

/** The update state of a module in words, with its tone. */
export function updateText(u: ModuleView['update']): { text: string; tone: Tone } {
  const v = u.version ?? 'the new firmware';
  const why = u.message ? `: ${u.message}` : '';
  switch (u.state) {
    case 'none':
      return { text: 'No update under way', tone: 'ok' };
    case 'waiting':
      return { text: `Update to ${v} approved, waiting${why || ' for the maintenance window, an idle machine or its turn'}`, tone: 'ok' };
    case 'downloading': {
      const pct = transferPercent(u);
      const part = pct === null ? sizeText(u.transferred) : `${pct} % (${sizeText(u.transferred)} of ${sizeText(u.size)})`;
      return { text: `Downloading ${v}: ${part}`, tone: 'ok' };
    }
    case 'installing':
      return { text: `Installing ${v} into the other slot`, tone: 'ok' };
    case 'trial':
      return { text: `Running ${v} on trial: health check not passed yet`, tone: 'ok' };
    case 'committed':
      return { text: `Updated to ${v}: health check passed`, tone: 'ok' };
    case 'rolled-back':
      return { text: `Rolled back from ${v} to the previous firmware${why}`, tone: 'warn' };
    case 'failed':
      return { text: `Update to ${v} failed${why}`, tone: 'warn' };
    case 'cancelled':
      return { text: `Update to ${v} cancelled${why}`, tone: 'ok' };
  }
}

/** The outcome of one update in the module's history. */
export function historyOutcomeText(outcome: ModuleView['history'][number]['outcome']): string {
  switch (outcome) {
    case 'committed':
      return 'Updated';
    case 'rolled-back':
      return 'Rolled back';
    case 'failed':
      return 'Failed';
    case 'cancelled':
      return 'Cancelled';
  }
}

const EVENT_TITLE: Record<ModuleEventKind, string> = {
  'heartbeat-missed': 'Heartbeats missed',
  'unknown-firmware': 'Unknown firmware',
  'unexpected-restart': 'Unexpected restart',
  rollback: 'Rolled back to the previous firmware',
  tamper: 'Enclosure opened',
  'foreign-modbus-client': 'Another Modbus client',
  'setpoint-changed-outside': 'Setpoint changed outside the console',
  'bad-heartbeat-signature': 'Heartbeat signed by the wrong key',
  'clock-skew': 'Clock out of step',
};

/** A threat or health event's kind as a short title. */
export function eventTitle(kind: ModuleEventKind): string {
  return EVENT_TITLE[kind];
}

const REFUSAL_TITLE: Record<FirmwareRefusalCode, string> = {
  malformed: 'Damaged or not a firmware bundle',
  wrong_kind: 'Not a firmware release',
  legacy_signature: 'Signed with an old signature format',
  bad_signature: 'Signature does not match',
  unknown_key: 'Signed by a key that is not a release key',
  below_threshold: 'Not enough release keys signed it',
  expired: 'Expired',
  not_yet_valid: 'Dated in the future',
  wrong_model: 'Made for another hardware model',
  version_rollback: 'Older than the installed firmware',
  version_reissued: 'Same version, another image',
  counter_rollback: 'A known-vulnerable older release',
  image_too_large: 'Image too large',
  image_mismatch: 'Image does not match its manifest',
  root_rollback: 'Older root of trust',
  duplicate: 'Already imported',
};

/** A refused bundle's reason as a short title. */
export function refusalTitle(code: FirmwareRefusalCode): string {
  return REFUSAL_TITLE[code];
}

/** "Signed by 2 of 3 supplier release keys (2 needed)". */
export function signersText(r: Pick<FirmwareRelease, 'signers' | 'threshold'>, root: ModulesState['root']): string {
  const n = r.signers.length;
  const of = root ? ` of ${root.keys.length}` : '';
  return `Signed by ${n}${of} supplier release ${n === 1 && !root ? 'key' : 'keys'} (${r.threshold} needed)`;
}

/** The date part of a plant-zone date and time: "26/11/2026". */
function dateOnly(ts: number, tz: string): string {
  return formatDateTime(ts, tz).split(',')[0] ?? '';
}

/** "Valid until 26/11/2026", or "EXPIRED on 01/02/2025" (then `expired`). */
export function expiryText(expires: number, now: number, tz: string): { text: string; expired: boolean } {
  if (expires <= now) return { text: `EXPIRED on ${dateOnly(expires, tz)}`, expired: true };
  return { text: `Valid until ${dateOnly(expires, tz)}`, expired: false };
}

/** "1.2.10" vs "1.2.9" by number, part by part; other text compared as text. Negative: a is older. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/);
  const pb = b.split(/[.+-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const d = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny;
    if (d !== 0) return d;
  }
  return 0;
}

const UNDER_WAY: ReadonlySet<ModuleView['update']['state']> = new Set(['waiting', 'downloading', 'installing', 'trial']);

/** A module the approval dialog offers for a release: current → new, or why it cannot be chosen. */
export interface UpdateCandidate {
  module: ModuleView;
  /** "1.0.0 → 1.1.0". */
  change: string;
  /** Why it cannot be chosen, or null. */
  blocked: string | null;
}

/** Paired modules of a model the release is made for, each with current → new or why not. */
export function updateCandidates(release: Pick<FirmwareRelease, 'models' | 'version'>, modules: readonly ModuleView[]): UpdateCandidate[] {
  return modules
    .filter((m) => m.pairing === 'paired' && release.models.includes(m.model))
    .map((m) => {
      const change = `${m.version ?? 'unknown'} → ${release.version}`;
      let blocked: string | null = null;
      if (UNDER_WAY.has(m.update.state)) blocked = 'an update is already under way';
      else if (m.version !== null && compareVersions(m.version, release.version) === 0) blocked = `already runs ${release.version}`;
      else if (m.version !== null && compareVersions(m.version, release.version) > 0) blocked = `runs a newer version (${m.version})`;
      return { module: m, change, blocked };
    });
}

/** The plant has no maintenance window: updates may run at any time (the console says "always …"). */
function noWindow(mw: ModulesState['maintenanceWindow']): boolean {
  return /^always\b/.test(mw.text);
}

/** "Sat 06:00–14:00, closed now", or "none: updates may run at any time". */
export function windowText(mw: ModulesState['maintenanceWindow']): string {
  if (noWindow(mw)) return 'none: updates may run at any time';
  return `${mw.text}, ${mw.openNow ? 'open now' : 'closed now'}`;
}

/** How the approved update goes, in two plain sentences. */
export function rolloutPlanText(count: number, soakS: number | null, mw: ModulesState['maintenanceWindow']): string {
  const window = noWindow(mw)
    ? 'At any time (the plant has no maintenance window), but only while the machine is idle.'
    : `Only inside the maintenance window (${windowText(mw)}) and while the machine is idle.`;
  if (count <= 1) return `The module is updated, then checked. ${window}`;
  const soak = soakS === null ? 'for the set time' : `for ${spanText(soakS)}`;
  return `One module first; the others only after it has run healthy ${soak}. ${window}`;
}

/** A rollout's state in words; `name` gives a module's name. */
export function rolloutStateText(r: Rollout, name: (moduleId: string) => string): { text: string; tone: Tone; active: boolean } {
  const first = r.moduleIds[0] ? name(r.moduleIds[0]) : 'the first module';
  const rest = r.moduleIds.length - 1;
  const why = r.message ? `: ${r.message}` : '';
  switch (r.state) {
    case 'waiting-window':
      return { text: `Approved, waiting for the maintenance window and an idle machine${why}`, tone: 'ok', active: true };
    case 'first-module':
      return {
        text: rest > 0 ? `Updating the first module, ${first}; the other ${rest} wait` : `Updating ${first}`,
        tone: 'ok',
        active: true,
      };
    case 'soaking':
      return {
        text:
          rest > 0
            ? `${first} is updated; the other ${rest} follow once it has run healthy for ${spanText(r.soakS)}`
            : `${first} is updated; watching that it runs healthy for ${spanText(r.soakS)}`,
        tone: 'ok',
        active: true,
      };
    case 'rest':
      return { text: `Updating the other ${rest} ${rest === 1 ? 'module' : 'modules'}`, tone: 'ok', active: true };
    case 'done':
      return {
        text: `Done: ${r.moduleIds.length} ${r.moduleIds.length === 1 ? 'module' : 'modules'} updated to ${r.version}`,
        tone: 'ok',
        active: false,
      };
    case 'stopped':
      return { text: `Stopped${why}`, tone: 'warn', active: false };
  }
}

const RANK: Record<ModuleView['health'], number> = { alarm: 0, warning: 1, unknown: 2, ok: 3 };

/** Paired and rejected modules in the order the page lists them: alarms first, then warnings, no report, healthy; rejected last; else as the console lists them. */
export function listOrder(modules: readonly ModuleView[]): ModuleView[] {
  const rank = (m: ModuleView): number => (m.pairing === 'rejected' ? 4 : RANK[m.health]);
  return modules.filter((m) => m.pairing !== 'pending').sort((a, b) => rank(a) - rank(b));
}

/** True when the module wants a person: waiting for pairing, not healthy, an active threat, tamper, unknown firmware or late. */
export function needsAttention(m: ModuleView, now: number): boolean {
  if (m.pairing === 'rejected') return false;
  if (m.pairing === 'pending') return true;
  return (
    m.health === 'alarm' ||
    m.health === 'warning' ||
    m.tamper ||
    (m.version !== null && !m.knownRelease) ||
    m.events.some((e) => e.active) ||
    heartbeatMissed(m, now)
  );
}

/** Modules needing a person now (the header's badge). */
export function attentionCount(state: ModulesState | null, now: number): number {
  return state?.modules.filter((m) => needsAttention(m, now)).length ?? 0;
}

/** "3 modules · 1 waiting for pairing · 2 paired, 1 needs attention". */
export function modulesSummary(state: ModulesState, now: number): string {
  const n = state.modules.filter((m) => m.pairing !== 'rejected').length;
  const pending = state.modules.filter((m) => m.pairing === 'pending').length;
  const attention = state.modules.filter((m) => m.pairing === 'paired' && needsAttention(m, now)).length;
  const paired = state.modules.filter((m) => m.pairing === 'paired').length;
  const parts = [`${n} ${n === 1 ? 'module' : 'modules'}`];
  if (pending > 0) parts.push(`${pending} waiting for pairing`);
  if (paired > 0)
    parts.push(`${paired} paired, ${attention === 0 ? 'all healthy' : `${attention} ${attention === 1 ? 'needs' : 'need'} attention`}`);
  return parts.join(' · ');
}
