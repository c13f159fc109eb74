/** The alarms of one machine on its page, with acknowledge; the whole plant's list is one tap away. */
import { useShallow } from 'zustand/react/shallow';
import { countAlarms, countText } from '../lib/alarms';
import { alarmsOfMachine, useAlarmsStore } from '../stores/alarms';
import { routeHash } from '../stores/navigation';
import { AlarmList } from './AlarmList';

/** The machine page's alarm section. */
export function MachineAlarms({ machineId }: { machineId: string }) {
  const alarms = useAlarmsStore(useShallow(alarmsOfMachine(machineId)));
  return (
    <section className="card machine-alarms" aria-labelledby="machine-alarms-title" data-testid="machine-alarms">
      <div className="section-head">
        <h2 id="machine-alarms-title">Alarms</h2>
        <span className="muted">{countText(countAlarms(alarms))}</span>
        <a className="btn" href={routeHash({ page: 'alarms' })}>
          All plant alarms
        </a>
      </div>
      <AlarmList
        alarms={alarms}
        showMachine={false}
        emptyText="No alarms on this machine."
        ackAllTestId="alarm-ack-all-machine"
        listTestId="machine-alarm-list"
      />
    </section>
  );
}
