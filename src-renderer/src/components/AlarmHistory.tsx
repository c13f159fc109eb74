/** This shift's alarm events (alarms.history), newest first; refetched whenever alarms change. */
import { useEffect, useState } from 'react';
import type { AlarmEvent } from '../../../src-preload/contract';
import { eventText } from '../lib/alarms';
import { formatClock, formatNumber, formatRange, withUnit } from '../lib/format';
import { selectAlarmsVersion, useAlarmsStore } from '../stores/alarms';
import { selectIsLive, useConnectionStore } from '../stores/connection';
import { useMachinesStore, type MachinesState } from '../stores/machines';
import { selectPlantInfo, usePlantStore } from '../stores/plant';
import { useTransport } from '../transport/context';
import { PriorityIcon } from './AlarmParts';

/** Rows drawn at most; the rest is counted (a flood must not freeze the page). */
const MAX_ROWS = 200;

const selectMachineById = (s: MachinesState): MachinesState['byId'] => s.byId;

/** The history table of the shift, for the plant or one machine. */
export function AlarmHistory({ machineId }: { machineId: string | null }) {
  const transport = useTransport();
  const info = usePlantStore(selectPlantInfo);
  const version = useAlarmsStore(selectAlarmsVersion);
  const live = useConnectionStore(selectIsLive);
  const byId = useMachinesStore(selectMachineById);
  const [events, setEvents] = useState<AlarmEvent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const shiftStart = info?.shift.start;

  useEffect(() => {
    if (!live || shiftStart === undefined) return;
    let cancelled = false;
    // A short pause folds a burst of alarm changes into one request.
    const timer = setTimeout(() => {
      void transport.call('alarms.history', machineId ? { machineId, fromMs: shiftStart } : { fromMs: shiftStart }).then((res) => {
        if (cancelled) return;
        if (res.ok) {
          setEvents(res.value.events);
          setError(null);
        } else setError(res.error.message);
      });
    }, 300);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [transport, machineId, shiftStart, version, live]);

  const tz = info?.timezone ?? 'UTC';
  const shown = events?.slice(0, MAX_ROWS) ?? [];
  return (
    <section className="card alarm-history" aria-labelledby="alarm-history-title" data-testid="alarm-history">
      <h2 id="alarm-history-title" className="card-title">
        Alarm history of this shift
        {info && (
          <span className="muted">
            {' '}
            · {info.shift.name} {formatRange(info.shift.start, info.shift.end, tz)} · newest first · plant time ({tz})
          </span>
        )}
      </h2>
      {error && <p className="alarm-ack-error">History unavailable: {error}</p>}
      {events === null && !error && <p className="muted">Loading history…</p>}
      {events !== null && events.length === 0 && <p className="muted">No alarm events in this shift so far.</p>}
      {shown.length > 0 && (
        <table className="alarm-history-table">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Priority</th>
              <th scope="col">Machine</th>
              <th scope="col">Alarm</th>
              <th scope="col">Event</th>
              <th scope="col">Value</th>
              <th scope="col">By</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e, i) => (
              <tr key={`${e.at}-${e.alarmId}-${e.event}-${i}`} className={`alarm-ev-${e.event}`}>
                <td className="mono">{formatClock(e.at, tz)}</td>
                <td>
                  <span className="alarm-history-prio">
                    <PriorityIcon priority={e.priority} size={18} /> {e.priority.toUpperCase()}
                  </span>
                </td>
                <td>{byId[e.machineId]?.name ?? e.machineId}</td>
                <td>{e.message}</td>
                <td>{eventText(e)}</td>
                <td className="num">{withUnit(formatNumber(e.value, 1), e.unit ?? '')}</td>
                <td>{e.user ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {events !== null && events.length > MAX_ROWS && (
        <p className="muted">
          Showing the newest {MAX_ROWS} of {events.length} events.
        </p>
      )}
    </section>
  );
}
