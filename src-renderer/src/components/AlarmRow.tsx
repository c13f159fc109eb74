/**
 * One alarm in a list: marker, priority, state in words, machine, message, value against its
 * limit, when it was raised (relative and absolute), and the Acknowledge button.
 */
import type { Alarm, MachineSnapshot, PointMeta } from '../../../src-preload/contract';
import { alarmKey, isActive, isUnacked, stateText } from '../lib/alarms';
import { formatAgo, formatClock, formatNumber, withUnit } from '../lib/format';
import { routeHash } from '../stores/navigation';
import { PriorityBadge, UnackMarker } from './AlarmParts';
import { STATE_WORD } from './StateBadge';

interface Props {
  alarm: Alarm;
  machine: MachineSnapshot | undefined;
  point: PointMeta | undefined;
  showMachine: boolean;
  now: number;
  tz: string;
  /** False when the caller's role may not acknowledge (supplier support). */
  canAck: boolean;
  pending: boolean;
  onAck(id: string): void;
}

/** The live value of the alarm's point, when it is good. */
function currentValue(machine: MachineSnapshot | undefined, pointId: string | null): number | null {
  if (!machine || !pointId || machine.state === 'offline') return null;
  const pv = machine.values[pointId];
  return pv && pv.quality === 'good' && typeof pv.value === 'number' ? pv.value : null;
}

/** "now 22.4 N · limit: above 15.0 N · 23.1 N when raised", or what the machine says now. */
export function conditionText(alarm: Alarm, decimals: number, machine: MachineSnapshot | undefined): string {
  // A no-break space keeps each number with its unit when the line wraps.
  const f = (v: number | null): string => withUnit(formatNumber(v, decimals), alarm.unit).replace(' ', '\u00a0');
  switch (alarm.kind) {
    case 'high':
    case 'low': {
      const dir = alarm.kind === 'high' ? 'above' : 'below';
      return `now ${f(currentValue(machine, alarm.pointId))} · limit: ${dir} ${f(alarm.limit)} · ${f(alarm.value)} when raised`;
    }
    case 'state':
      return `Machine state now: ${machine ? STATE_WORD[machine.state] : '—'}`;
    case 'link':
      return `Connection now: ${machine ? machine.link.state.toUpperCase() : '—'}`;
    case 'module':
      return 'Reported by the IoT module: see Modules';
    case 'uplink':
      return 'Reported by the link to the supplier: see What leaves';
    case 'line': {
      const n = machine?.link.noise;
      return n ? `Line now: ${n.spoiled} of the last ${n.answers} answers spoiled${n.noisy ? '' : ' · clean again'}` : 'Line now: —';
    }
    case 'audit':
      return "Reported by the audit log's forwarding to plant IT: see Audit";
    case 'history':
      return 'Reported by the console: trend data could not be saved (disk full or failing)';
    case 'storage':
      return 'Reported by the console about its own disk: free space on this PC';
    default: {
      const never: never = alarm.kind;
      return String(never);
    }
  }
}

/** The row. */
export function AlarmRow({ alarm, machine, point, showMachine, now, tz, canAck, pending, onAck }: Props) {
  const key = alarmKey(alarm.id);
  const unacked = isUnacked(alarm.state);
  const active = isActive(alarm.state);
  const decimals = point?.decimals ?? 1;
  const machineName = machine?.name ?? alarm.machineId;
  return (
    <li className={`alarm-row alarm-${alarm.state} prio-${alarm.priority}`} data-testid={`alarm-row-${key}`}>
      <div className="alarm-marker-cell">{unacked && <UnackMarker priority={alarm.priority} testId={`alarm-marker-${key}`} />}</div>
      <div className="alarm-prio-cell">
        <PriorityBadge priority={alarm.priority} hollow={!active} />
      </div>
      <div className="alarm-main">
        <div className="alarm-title">
          {showMachine && (
            <a className="alarm-machine" href={routeHash({ page: 'machine', machineId: alarm.machineId })}>
              {machineName}
            </a>
          )}
          <span className="alarm-message">{alarm.message}</span>
        </div>
        <div className="alarm-detail">
          {point ? `${point.name}: ` : ''}
          {conditionText(alarm, decimals, machine)}
        </div>
      </div>
      <div className="alarm-when">
        <span className={`alarm-state${unacked ? ' alarm-state-unacked' : ''}`} data-testid={`alarm-state-${key}`}>
          {stateText(alarm, tz)}
        </span>
        <span className="alarm-time">
          Raised {formatAgo(alarm.raisedAt, now)} ·{' '}
          <time dateTime={new Date(alarm.raisedAt).toISOString()}>{formatClock(alarm.raisedAt, tz)}</time>
        </span>
        {alarm.clearedAt !== null && !active && (
          <span className="alarm-time">
            Cleared {formatAgo(alarm.clearedAt, now)} ·{' '}
            <time dateTime={new Date(alarm.clearedAt).toISOString()}>{formatClock(alarm.clearedAt, tz)}</time>
          </span>
        )}
      </div>
      <div className="alarm-action">
        {unacked && (
          <button
            type="button"
            className="btn alarm-ack-btn"
            data-testid={`alarm-ack-${key}`}
            disabled={!canAck || pending}
            title={
              canAck ? `Acknowledge: ${machineName} — ${alarm.message}` : 'Acknowledging needs an operator, maintenance or admin account'
            }
            onClick={() => onAck(alarm.id)}
          >
            {pending ? 'Acknowledging…' : 'Acknowledge'}
          </button>
        )}
      </div>
    </li>
  );
}
