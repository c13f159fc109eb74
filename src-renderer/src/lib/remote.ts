/** Words of remote support: scopes, the page the remote person is on, time left, a change request's sentence and state. */
import type { CallerRole, ChangeRequest, RemoteGrant, RemoteScope } from '../../../src-preload/contract';
import { parseHash } from '../stores/navigation';
import { formatNumber, withUnit } from './format';

/** Roles that may grant sessions and confirm changes (the contract's remote.grant/confirm); a unit test keeps them equal. */
export const REMOTE_DECIDE_ROLES: readonly CallerRole[] = ['maintenance', 'admin'];
/** Roles that may end a session (remote.end): anyone on site. */
export const REMOTE_END_ROLES: readonly CallerRole[] = ['operator', 'maintenance', 'admin'];

export const SCOPE_WORDS: Record<RemoteScope, string> = {
  view: 'view only',
  propose: 'view and propose changes',
  apply: 'view and apply changes after on-site confirmation',
};

/** "Machine Moulding 1", "Overview", "Alarms": where the remote person is. */
export function pageWords(page: string | null, machineName: (id: string) => string | undefined): string {
  if (page === null) return 'not reported yet';
  const route = parseHash(page);
  switch (route.page) {
    case 'machine':
      return `Machine ${machineName(route.machineId) ?? route.machineId}`;
    case 'alarms':
      return 'Alarms';
    case 'uplink':
      return 'What leaves the plant';
    case 'remote':
      return 'Remote support';
    default:
      return 'Overview';
  }
}

/** "42 min left", "1 h 05 min left", "less than a minute left". */
export function timeLeft(endsAt: number | null, now: number): string {
  if (endsAt === null) return '';
  const ms = Math.max(0, endsAt - now);
  if (ms < 60_000) return 'less than a minute left';
  const min = Math.floor(ms / 60_000);
  if (min < 60) return `${min} min left`;
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min left`;
}

/** The machines a grant covers, in words. */
export function machinesWords(g: Pick<RemoteGrant, 'machines'>, machineName: (id: string) => string | undefined): string {
  return g.machines === null ? 'all machines' : g.machines.map((id) => machineName(id) ?? id).join(', ');
}

function valueText(v: number | boolean | null, r: Pick<ChangeRequest, 'decimals' | 'unit'>): string {
  if (v === null) return '—';
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return withUnit(formatNumber(v, r.decimals), r.unit);
}

/** "Set Zone 1 setpoint on Moulding 1 from 212.0 °C to 215.0 °C". */
export function requestSentence(r: ChangeRequest): string {
  return `Set ${r.pointName} on ${r.machineName} from ${valueText(r.from, r)} to ${valueText(r.to, r)}`;
}

/** The state of a request in words, with its outcome read back from the device. */
export function requestStateWords(r: ChangeRequest): string {
  switch (r.state) {
    case 'pending':
      return 'waiting for confirmation on site';
    case 'applying':
      return `confirmed by ${r.decidedBy ?? 'the site'}: writing…`;
    case 'written':
      return `written, read back ${valueText(r.result?.readback ?? null, r)} (confirmed by ${r.decidedBy ?? 'the site'})`;
    case 'refused':
      return `refused by the console: ${r.reason ?? 'no reason given'}`;
    case 'failed':
      return `failed: ${r.reason ?? 'no reason given'}`;
    case 'rejected':
      return `rejected on site by ${r.decidedBy ?? 'someone'}${r.reason ? `: ${r.reason}` : ''}`;
    case 'expired':
      return 'not decided before the session ended';
    default: {
      const never: never = r.state;
      return String(never);
    }
  }
}

/** "1234 5678": a join code as it is read out. */
export function joinCodeText(code: string): string {
  return code.length === 8 ? `${code.slice(0, 4)} ${code.slice(4)}` : code;
}
