/**
 * Setpoints as supplier support sees them in a remote session: the current value and limits,
 * and "Request change…" instead of "Set…": nothing is written until someone on site confirms.
 * The requests and their outcome (read back from the device) follow below.
 */
import { useState } from 'react';
import type { MachineSnapshot, PointMeta } from '../../../src-preload/contract';
import { requestSentence, requestStateWords } from '../lib/remote';
import { limitsText, pointValueText } from '../lib/setpoints';
import type { MachineMeta } from '../stores/machines';
import { selectMe, selectRemoteActions, selectRemoteBusy, selectRemoteError, selectRemoteState, useRemoteStore } from '../stores/remote';
import { useTransport } from '../transport/context';
import '../styles/remote.css';

function Row({
  point,
  machine,
  disabled,
  onAsk,
}: {
  point: PointMeta;
  machine: MachineSnapshot;
  disabled: boolean;
  onAsk(value: number | boolean): void;
}) {
  const v = machine.values[point.id]?.value;
  const current = typeof v === 'number' || typeof v === 'boolean' ? v : null;
  const [draft, setDraft] = useState('');
  const isBool = point.type === 'bool';
  const parsed = draft.trim() === '' ? Number.NaN : Number(draft);
  return (
    <div className="sp-row" data-testid={`remote-setpoint-${point.id}`}>
      <div className="sp-about">
        <span className="sp-name">{point.name}</span>
        <span className="sp-limits">{limitsText(point)}</span>
      </div>
      <div className="sp-now">
        <span className="sp-label">Now</span>
        <span className="sp-value">{pointValueText(current, point)}</span>
      </div>
      <div className="sp-controls">
        {!isBool && (
          <label className="sp-input-wrap">
            <span className="sr-only">Requested value for {point.name}</span>
            <input
              className="sp-input"
              type="number"
              inputMode="decimal"
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              data-testid={`remote-input-${point.id}`}
            />
            <span className="sp-unit">{point.unit}</span>
          </label>
        )}
        <button
          type="button"
          className="btn sp-set"
          data-testid={`remote-request-${point.id}`}
          disabled={disabled || (isBool ? typeof current !== 'boolean' : !Number.isFinite(parsed))}
          onClick={() => {
            onAsk(isBool ? !current : parsed);
            setDraft('');
          }}
        >
          {isBool ? `Request ${current ? 'off' : 'on'}…` : 'Request change…'}
        </button>
      </div>
    </div>
  );
}

/** The panel for the machine page of a supplier-support window. */
export function RemoteRequestPanel({ machine, meta }: { machine: MachineSnapshot; meta: MachineMeta }) {
  const transport = useTransport();
  const me = useRemoteStore(selectMe);
  const state = useRemoteStore(selectRemoteState);
  const busy = useRemoteStore(selectRemoteBusy);
  const error = useRemoteStore(selectRemoteError);
  const actions = useRemoteStore(selectRemoteActions);
  const writable = meta.points.filter((p) => p.writable);
  const scope = me?.remote?.scope ?? 'view';
  const mine = (state?.requests ?? []).filter((r) => r.machineId === machine.id);
  return (
    <section className="card setpoint-card" aria-labelledby="remote-sp-title" data-testid="remote-request-panel">
      <h2 id="remote-sp-title" className="card-title">
        Setpoints{' '}
        <span className="muted">· remote session: {scope === 'view' ? 'view only' : 'changes wait for confirmation on site'}</span>
      </h2>
      {error && (
        <p className="remote-error" role="alert" data-testid="remote-error">
          {error}
        </p>
      )}
      <div className="sp-list">
        {writable.map((p) => (
          <Row
            key={p.id}
            point={p}
            machine={machine}
            disabled={scope === 'view' || busy !== null}
            onAsk={(value) => void actions.propose(transport, { machineId: machine.id, pointId: p.id, value })}
          />
        ))}
      </div>
      {mine.length > 0 && (
        <ul className="remote-own-requests" data-testid="remote-own-requests">
          {mine.map((r) => (
            <li key={r.id} data-testid={`remote-own-${r.state}`}>
              <strong>{requestSentence(r)}</strong> — <span>{requestStateWords(r)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
