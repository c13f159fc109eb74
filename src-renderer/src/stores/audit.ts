/**
 * The audit page (#/audit): its filters, the records loaded so far (newest first, paged with
 * beforeSeq), and the words each kind of record is read in.
 */
import { create } from 'zustand';
import type { AuditPage, AuditRecordView, CallerRole, Transport } from '../../../src-preload/contract';
import { formatHm, formatNumber, withUnit } from '../lib/format';

/** Roles that may call audit.query (the contract's; a unit test keeps them equal). */
export const AUDIT_ROLES: readonly CallerRole[] = ['maintenance', 'admin'];

/** Every kind of audit record in words, in the order the filter chips show them. */
export const KIND_TEXT: Readonly<Record<string, string>> = Object.freeze({
  write: 'Setpoint written',
  revert: 'Setpoint undone',
  alarm_ack: 'Alarm acknowledged',
  login: 'Signed in',
  login_failed: 'Login failed',
  lockout: 'Sign-in locked',
  lockout_lifted: 'Sign-in lock lifted',
  logout: 'Signed out',
  session_expired: 'Session expired',
  remote_grant: 'Remote session granted',
  remote_join: 'Remote session joined',
  remote_action: 'Remote session action',
  remote_end: 'Remote session ended',
  user_added: 'Account added',
  user_disabled: 'Account disabled',
  user_enabled: 'Account enabled',
  password_reset: 'Password reset',
  pin_changed: 'PIN changed',
  config_change: 'Setting changed',
  config_loaded: 'Configuration loaded',
  config_changed: 'Configuration changed',
  classification_changed: 'Classification changed',
  key_rotation: 'Key rotated',
  recommendation_decision: 'Recommendation decided',
  firmware_decision: 'Firmware decided',
  reco_received: 'Recommendation received',
  reco_refused: 'Recommendation refused',
  reco_applied: 'Recommendation applied',
  reco_rejected: 'Recommendation rejected',
  reco_deferred: 'Recommendation deferred',
  reco_reverted: 'Recommendation reverted',
  reco_outcome: 'Recommendation outcome',
  firmware_imported: 'Firmware imported',
  firmware_refused: 'Firmware refused',
  firmware_root: 'Firmware root pinned',
  firmware_approved: 'Firmware update approved',
  firmware_update: 'Firmware update',
  module_paired: 'Module pairing decided',
  module_event: 'Module event',
});

export type AuditRange = 'shift' | '24h' | '7d';

export const RANGE_TEXT: Readonly<Record<AuditRange, string>> = { shift: 'This shift', '24h': 'Last 24 h', '7d': 'Last 7 days' };

/** Records per page. */
export const AUDIT_PAGE_SIZE = 50;

export interface AuditFilters {
  range: AuditRange;
  /** Empty: everyone. */
  user: string;
  /** Empty: every machine. */
  machineId: string;
  /** Empty: every kind. */
  kinds: string[];
}

export interface AuditState {
  filters: AuditFilters;
  records: AuditRecordView[];
  points: AuditPage['points'];
  nextBeforeSeq: number | null;
  loading: boolean;
  /** Why the console refused or could not answer, in words. */
  error: string | null;
  actions: {
    setFilters(patch: Partial<AuditFilters>): void;
    toggleKind(kind: string): void;
    /** Loads the first page for the filters (`older`: the next older page, appended). */
    load(transport: Transport, at: { now: number; shiftStart: number | null }, older?: boolean): Promise<void>;
  };
}

/** The start of a range preset, seen from `now`. */
export function rangeFrom(range: AuditRange, now: number, shiftStart: number | null): number {
  if (range === 'shift') return shiftStart ?? now - 8 * 3_600_000;
  return now - (range === '24h' ? 86_400_000 : 7 * 86_400_000);
}

/** An API refusal in words for the page. */
export function refusalText(code: string, message: string): string {
  if (code === 'FORBIDDEN') return `You may not read the audit log: ${message}. Maintenance and administrators may.`;
  if (code === 'UNAVAILABLE') return `The audit log cannot be read: ${message}.`;
  return `The audit log could not be loaded (${code}): ${message}`;
}

// A request sequence number, so that an answer to superseded filters is dropped.
let generation = 0;

export const useAuditStore = create<AuditState>()((set, get) => ({
  filters: { range: 'shift', user: '', machineId: '', kinds: [] },
  records: [],
  points: {},
  nextBeforeSeq: null,
  loading: false,
  error: null,
  actions: {
    setFilters(patch) {
      set({ filters: { ...get().filters, ...patch } });
    },
    toggleKind(kind) {
      const kinds = get().filters.kinds;
      set({ filters: { ...get().filters, kinds: kinds.includes(kind) ? kinds.filter((k) => k !== kind) : [...kinds, kind] } });
    },
    async load(transport, at, older = false) {
      const { filters, nextBeforeSeq } = get();
      if (older && nextBeforeSeq === null) return;
      const gen = ++generation;
      set({ loading: true, ...(older ? {} : { error: null }) });
      const user = filters.user.trim();
      const res = await transport
        .call('audit.query', {
          from: rangeFrom(filters.range, at.now, at.shiftStart),
          ...(user ? { user } : {}),
          ...(filters.machineId ? { machineId: filters.machineId } : {}),
          ...(filters.kinds.length ? { kinds: filters.kinds } : {}),
          ...(older && nextBeforeSeq !== null ? { beforeSeq: nextBeforeSeq } : {}),
          limit: AUDIT_PAGE_SIZE,
        })
        .catch((err: unknown) => ({
          ok: false as const,
          error: { code: 'UNAVAILABLE', message: err instanceof Error ? err.message : String(err) },
        }));
      if (gen !== generation) return;
      if (!res.ok) {
        set({
          loading: false,
          error: refusalText(res.error.code, res.error.message),
          ...(older ? {} : { records: [], nextBeforeSeq: null }),
        });
        return;
      }
      const v = res.value;
      set({
        loading: false,
        error: null,
        records: older ? [...get().records, ...v.records] : v.records,
        points: older ? { ...get().points, ...v.points } : v.points,
        nextBeforeSeq: v.nextBeforeSeq,
      });
    },
  },
}));

export const selectAudit = (s: AuditState): AuditState => s;
export const selectAuditActions = (s: AuditState): AuditState['actions'] => s.actions;

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** A written value in words with the point's precision and unit. */
function value(v: unknown, decimals: number, unit: string): string {
  if (typeof v === 'boolean') return v ? 'On' : 'Off';
  return withUnit(formatNumber(typeof v === 'number' ? v : null, decimals), unit);
}

/** A write or revert: "Zone 1 setpoint 215.0 → 216.0 °C, read back 216.0 °C" or the refusal and its reason. */
function writeText(r: AuditRecordView, points: AuditPage['points']): string {
  const d = r.detail;
  const pointId = str(d['pointId']) ?? '?';
  const meta = r.machineId ? points[`${r.machineId}/${pointId}`] : undefined;
  const unit = str(d['unit']) ?? meta?.unit ?? '';
  const dec = meta?.decimals ?? 1;
  const name = meta?.name ?? pointId;
  // A refused write was never read from the device first: it has no "before" to show.
  const change =
    d['before'] === null || d['before'] === undefined
      ? `${name} to ${value(d['requested'], dec, unit)}`
      : `${name} ${typeof d['before'] === 'boolean' ? value(d['before'], dec, unit) : formatNumber(typeof d['before'] === 'number' ? d['before'] : null, dec)} → ${value(d['requested'], dec, unit)}`;
  const prefix = r.kind === 'revert' ? 'Undo: ' : '';
  const reason = str(d['reason']);
  switch (d['outcome']) {
    case 'written':
      return `${prefix}${change}, read back ${value(d['readback'], dec, unit)}`;
    case 'readback-mismatch':
      return `${prefix}${change}, but read back ${value(d['readback'], dec, unit)} (does not match)`;
    case 'refused':
      return `${prefix}${change} REFUSED: ${reason ?? str(d['code']) ?? 'no reason given'}`;
    default:
      return `${prefix}${change} FAILED: ${reason ?? str(d['code']) ?? 'no reason given'}`;
  }
}

const REASONS: Readonly<Record<string, string>> = {
  'bad-password': 'wrong password',
  'bad-pin': 'wrong PIN',
  'unknown-user': 'no such account',
  disabled: 'account disabled',
  'locked-out': 'locked out',
};

/** Any other record: its facts as "name: value" pairs. */
function factsText(d: Record<string, unknown>, skip: readonly string[] = []): string {
  return Object.entries(d)
    .filter(([k, v]) => !skip.includes(k) && v !== null && v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ');
}

/** A record's details in words, for the table's last column. */
export function detailText(r: AuditRecordView, points: AuditPage['points'], tz: string): string {
  const d = r.detail;
  switch (r.kind) {
    case 'write':
    case 'revert':
      return writeText(r, points);
    case 'login':
      return `From ${str(d['source']) ?? 'an unknown place'}`;
    case 'login_failed': {
      const reason = str(d['reason']);
      const n = typeof d['failures'] === 'number' ? `, failure ${d['failures']} in a row` : '';
      return `${d['method'] === 'pin' ? 'PIN' : 'Password'}: ${reason ? (REASONS[reason] ?? reason) : 'refused'}${n}${str(d['source']) ? ` from ${str(d['source'])}` : ''}`;
    }
    case 'lockout':
      return `Locked for the ${str(d['scope']) ?? 'account'}${str(d['source']) ? ` from ${str(d['source'])}` : ''}${typeof d['until'] === 'number' ? ` until ${formatHm(d['until'], tz)}` : ''}`;
    case 'lockout_lifted':
      return `${str(d['account']) ? `Account ${str(d['account'])}` : 'All accounts'} from ${str(d['source']) ?? 'every network source'} (${str(d['scope']) ?? 'account'} lock)`;
    case 'alarm_ack': {
      const msg = str(d['message']) ?? str(d['alarmId']) ?? 'alarm';
      const pr = str(d['priority']);
      return `${pr ? `${pr.toUpperCase()} · ` : ''}${msg}${d['stateBefore'] === 'cleared-unacked' ? ' (already cleared)' : ''}`;
    }
    case 'remote_grant': {
      const machines = Array.isArray(d['machines']) ? d['machines'].join(', ') : 'all machines';
      const min = typeof d['durationMs'] === 'number' ? `${Math.round(d['durationMs'] / 60_000)} min` : '';
      return `For ${str(d['account']) ?? '?'}: scope ${str(d['scope']) ?? '?'}, ${machines}${min ? `, ${min}` : ''}`;
    }
    case 'remote_join':
      return d['ok'] === true ? `Joined with scope ${str(d['scope']) ?? '?'}` : `Join refused: ${str(d['reason']) ?? 'no reason given'}`;
    case 'remote_end':
      return `Session of ${str(d['account']) ?? '?'} ended: ${str(d['reason']) ?? 'no reason given'}`;
    case 'remote_action': {
      const action = str(d['action']);
      if (action === 'view') return `Viewed ${str(d['page']) ?? 'a page'}`;
      if (action === 'open-machine') return 'Opened the machine';
      if (action === 'interrupted') return `Session cut off: ${str(d['reason']) ?? 'no reason given'}`;
      if (action === 'expire') return `Request for ${str(d['pointId']) ?? '?'} not applied: ${str(d['reason']) ?? 'no reason given'}`;
      if (action === 'request')
        return `Asked to set ${str(d['pointId']) ?? '?'} from ${String(d['from'])} to ${String(d['to'])} ${str(d['unit']) ?? ''}`.trim();
      return `${action ?? 'action'}: ${factsText(d, ['action', 'grantId'])}`;
    }
    case 'user_added':
      return `Account ${str(d['name']) ?? '?'} as ${str(d['role']) ?? '?'}${d['pin'] === true ? ', with PIN' : ''}`;
    case 'user_disabled':
    case 'user_enabled':
    case 'password_reset':
      return `Account ${str(d['name']) ?? '?'}`;
    case 'pin_changed':
      return `Account ${str(d['name']) ?? '?'}${d['removed'] === true ? ': PIN removed' : ''}`;
    case 'config_loaded': {
      const n = (k: string): number => (typeof d[k] === 'number' ? d[k] : 0);
      const machines = Array.isArray(d['machines']) ? d['machines'].length : 0;
      return `${machines} machines, ${n('points')} points (${n('sealed')} sealed, ${n('plain')} plain), writes ${d['writesEnabled'] === true ? 'on' : 'off'} · hash ${(str(d['hash']) ?? '?').slice(0, 12)}`;
    }
    case 'config_changed': {
      const lines = Array.isArray(d['changes']) ? d['changes'].map(String) : [];
      const more = typeof d['more'] === 'number' ? `; and ${d['more']} more` : '';
      return `${lines.join('; ')}${more}` || '—';
    }
    case 'classification_changed':
      return `${str(d['pointName']) ?? str(d['pointId']) ?? '?'}: ${str(d['from']) ?? 'new point'} → ${str(d['to']) ?? '?'}`;
    default:
      return factsText(d) || '—';
  }
}

/** True for a write or revert that did not change the plant (shown with its reason, marked). */
export function isRefused(r: AuditRecordView): boolean {
  return (r.kind === 'write' || r.kind === 'revert') && r.detail['outcome'] !== 'written';
}
