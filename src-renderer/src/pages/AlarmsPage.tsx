/** The plant's alarms: current alarms (unacknowledged first) with acknowledge, a machine filter, and the shift's history. */
import { useEffect } from 'react';
import { AlarmHistory } from '../components/AlarmHistory';
import { AlarmList } from '../components/AlarmList';
import { PriorityIcon } from '../components/AlarmParts';
import { countAlarms, countText } from '../lib/alarms';
import {
  selectAlarmFilter,
  selectAlarms,
  selectAlarmsActions,
  selectAlarmsLoaded,
  selectAlarmsLoadError,
  useAlarmsStore,
} from '../stores/alarms';
import { selectOrder, useMachinesStore, type MachinesState } from '../stores/machines';

const selectById = (s: MachinesState): MachinesState['byId'] => s.byId;

/** The alarm page (#/alarms). */
export function AlarmsPage() {
  const alarms = useAlarmsStore(selectAlarms);
  const loaded = useAlarmsStore(selectAlarmsLoaded);
  const loadError = useAlarmsStore(selectAlarmsLoadError);
  const filter = useAlarmsStore(selectAlarmFilter);
  const actions = useAlarmsStore(selectAlarmsActions);
  const order = useMachinesStore(selectOrder);
  const byId = useMachinesStore(selectById);

  useEffect(() => {
    document.title = 'Alarms — Plant Console';
    return () => {
      document.title = 'Plant Console';
    };
  }, []);

  // A filter for a machine that is gone (another plant after a reconnect) shows everything.
  const machineId = filter !== null && order.includes(filter) ? filter : null;
  const shown = machineId === null ? alarms : alarms.filter((a) => a.machineId === machineId);
  const counts = countAlarms(shown);
  const filterName = machineId === null ? 'all machines' : (byId[machineId]?.name ?? machineId);
  return (
    <main className="page page-alarms" data-testid="alarms-page">
      <header className="alarms-head">
        <div>
          <h1>Alarms</h1>
          <span className="muted" data-testid="alarms-summary">
            {loaded ? `${countText(counts)} · ${filterName}` : loadError ? `Cannot load alarms: ${loadError}` : 'Loading alarms…'}
          </span>
        </div>
        <nav className="seg alarm-filter" aria-label="Show the alarms of">
          <button
            type="button"
            className={`seg-btn${machineId === null ? ' seg-on' : ''}`}
            aria-pressed={machineId === null}
            onClick={() => actions.setFilter(null)}
            data-testid="alarm-filter-all"
          >
            All machines ({alarms.length})
          </button>
          {order.map((id) => {
            const mine = alarms.filter((a) => a.machineId === id);
            const c = countAlarms(mine);
            return (
              <button
                key={id}
                type="button"
                className={`seg-btn${machineId === id ? ' seg-on' : ''}`}
                aria-pressed={machineId === id}
                onClick={() => actions.setFilter(id)}
                data-testid={`alarm-filter-${id}`}
              >
                {c.highestUnacked && <PriorityIcon priority={c.highestUnacked} size={18} />}
                {byId[id]?.name ?? id} ({mine.length})
              </button>
            );
          })}
        </nav>
      </header>
      <AlarmList
        alarms={shown}
        showMachine
        emptyText={machineId === null ? 'No alarms: every machine is normal.' : `No alarms on ${filterName}.`}
        ackAllTestId="alarm-ack-all"
        listTestId="alarm-list"
      />
      <AlarmHistory machineId={machineId} />
    </main>
  );
}
