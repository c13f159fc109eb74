/** A list of current alarms with per-row and "all shown" acknowledge, for the plant or one machine. */
import type { Alarm } from '../../../src-preload/contract';
import { isUnacked } from '../lib/alarms';
import { selectAckError, selectAlarmPending, selectAlarmsActions, useAlarmsStore } from '../stores/alarms';
import { selectIsLive, useConnectionStore } from '../stores/connection';
import { useMachinesStore, type MachinesState } from '../stores/machines';
import { selectNow, selectPlantInfo, usePlantStore } from '../stores/plant';
import { useTransport } from '../transport/context';
import { AlarmRow } from './AlarmRow';

const selectById = (s: MachinesState): MachinesState['byId'] => s.byId;
const selectMeta = (s: MachinesState): MachinesState['meta'] => s.meta;

const ACK_ROLES = new Set(['operator', 'maintenance', 'admin']);

interface Props {
  alarms: readonly Alarm[];
  showMachine: boolean;
  emptyText: string;
  ackAllTestId: string;
  listTestId: string;
}

/** The list, its "Acknowledge all shown" button and the outcome of the last acknowledge. */
export function AlarmList({ alarms, showMachine, emptyText, ackAllTestId, listTestId }: Props) {
  const transport = useTransport();
  const byId = useMachinesStore(selectById);
  const meta = useMachinesStore(selectMeta);
  const info = usePlantStore(selectPlantInfo);
  const now = usePlantStore(selectNow);
  const live = useConnectionStore(selectIsLive);
  const pending = useAlarmsStore(selectAlarmPending);
  const ackError = useAlarmsStore(selectAckError);
  const actions = useAlarmsStore(selectAlarmsActions);
  const tz = info?.timezone ?? 'UTC';
  const canAck = live && info !== null && ACK_ROLES.has(info.caller.role);
  const unacked = alarms.filter((a) => isUnacked(a.state)).map((a) => a.id);
  const ack = (ids: readonly string[]): void => void actions.acknowledge(transport, ids);
  return (
    <div className="alarm-list-wrap">
      {/* Nothing to acknowledge and nothing to report: no bar, the empty line says it all. */}
      {(alarms.length > 0 || ackError) && (
        <div className="alarm-list-bar">
          <button
            type="button"
            className="btn alarm-ack-all"
            data-testid={ackAllTestId}
            disabled={!canAck || unacked.length === 0}
            onClick={() => ack(unacked)}
          >
            Acknowledge all shown
            {unacked.length > 0 ? ` (${unacked.length})` : ''}
          </button>
          {!live && <span className="muted">Not connected: acknowledging is not possible now.</span>}
          {live && info && !ACK_ROLES.has(info.caller.role) && (
            <span className="muted" data-testid="alarm-ack-readonly">
              {info.caller.role === 'viewer'
                ? 'Viewing without sign-in: an operator, maintenance or admin account signs in to acknowledge.'
                : `Your role (${info.caller.role}) may view alarms but not acknowledge them.`}
            </span>
          )}
          {ackError && (
            <span className="alarm-ack-error" role="alert">
              {ackError}
            </span>
          )}
        </div>
      )}
      {alarms.length === 0 ? (
        <p className="alarm-empty" data-testid={listTestId}>
          {emptyText}
        </p>
      ) : (
        <ul className="alarm-list" data-testid={listTestId}>
          {alarms.map((a) => (
            <AlarmRow
              key={a.id}
              alarm={a}
              machine={byId[a.machineId]}
              point={a.pointId ? meta[a.machineId]?.pointById[a.pointId] : undefined}
              showMachine={showMachine}
              now={now}
              tz={tz}
              canAck={canAck}
              pending={pending[a.id] === true}
              onAck={(id) => ack([id])}
            />
          ))}
        </ul>
      )}
    </div>
  );
}
