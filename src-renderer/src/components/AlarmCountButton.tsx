/**
 * The header's alarm count, on every screen: coloured by the most urgent unacknowledged
 * priority (with its shape and the count in words), quiet grey when there is nothing; it opens
 * the alarm page.
 */
import { countAlarms, countText, PRIORITY_WORD } from '../lib/alarms';
import { selectAlarms, selectAlarmsLoaded, useAlarmsStore } from '../stores/alarms';
import { routeHash, selectRoute, useNavigationStore } from '../stores/navigation';
import { PriorityIcon, UnackMarker } from './AlarmParts';

/** The count button. */
export function AlarmCountButton() {
  const alarms = useAlarmsStore(selectAlarms);
  const loaded = useAlarmsStore(selectAlarmsLoaded);
  const route = useNavigationStore(selectRoute);
  const c = countAlarms(alarms);
  const prio = c.highestUnacked;
  const shape = prio ?? c.highest;
  const tone = prio ? `prio-${prio} alarm-count-unacked` : c.total > 0 ? 'alarm-count-acked' : 'alarm-count-none';
  const title = prio
    ? `Most urgent unacknowledged alarm: ${PRIORITY_WORD[prio]}`
    : c.total > 0
      ? 'Every alarm is acknowledged'
      : 'No alarms';
  return (
    <a
      className={`alarm-count ${tone}`}
      href={routeHash({ page: 'alarms' })}
      aria-current={route.page === 'alarms' ? 'page' : undefined}
      title={title}
      data-testid="alarm-count"
      data-priority={prio ?? 'none'}
    >
      {prio && <UnackMarker priority={prio} />}
      {shape && <PriorityIcon priority={shape} size={24} />}
      <span className="alarm-count-text">{loaded ? countText(c) : 'Alarms …'}</span>
    </a>
  );
}
