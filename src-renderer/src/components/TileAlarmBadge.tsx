/** A machine's alarms on its overview tile: priority colour and shape, the count in words, a marker while unacknowledged. */
import { useShallow } from 'zustand/react/shallow';
import type { MachineSnapshot } from '../../../src-preload/contract';
import { countAlarms, PRIORITY_WORD } from '../lib/alarms';
import { alarmsOfMachine, selectAlarmsLoaded, useAlarmsStore } from '../stores/alarms';
import { PriorityIcon, UnackMarker } from './AlarmParts';

/** The badge; nothing when the machine has no alarm. */
export function TileAlarmBadge({ machine }: { machine: MachineSnapshot }) {
  const alarms = useAlarmsStore(useShallow(alarmsOfMachine(machine.id)));
  const loaded = useAlarmsStore(selectAlarmsLoaded);
  // The alarm stream is the live source; the snapshot's figures cover the moment before it loads.
  const c = loaded ? countAlarms(alarms) : null;
  const snap = machine.alarms;
  const unacked = c ? c.unacknowledged : (snap?.unacknowledged ?? 0);
  const highest = c ? c.highest : (snap?.highest ?? null);
  if (highest === null) return null;
  const lead = c ? `${c.total} alarm${c.total === 1 ? '' : 's'}` : `${snap?.active ?? 0} active`;
  const text = `${lead}${unacked > 0 ? ` · ${unacked} unacknowledged` : ' · acknowledged'}`;
  return (
    <div
      className={`tile-alarm-badge prio-${highest}${unacked > 0 ? ' tile-alarm-unacked' : ''}`}
      data-testid={`tile-alarm-badge-${machine.id}`}
    >
      {unacked > 0 && <UnackMarker priority={highest} />}
      <PriorityIcon priority={highest} size={24} />
      <span className="tile-alarm-word">{PRIORITY_WORD[highest]}</span>
      <span className="tile-alarm-text">{text}</span>
    </div>
  );
}
