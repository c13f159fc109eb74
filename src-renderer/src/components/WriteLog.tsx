/** The write log of one machine: who changed what, from what, to what the device read back, and how it ended. */
import type { PointMeta, WriteResult } from '../../../src-preload/contract';
import { formatAgo, formatClock } from '../lib/format';
import { outcomeWord, pointValueText } from '../lib/setpoints';

interface Props {
  entries: readonly WriteResult[];
  error: string | null;
  pointById: Readonly<Record<string, PointMeta>>;
  tz: string;
  now: number;
}

/** "212.0 → 214.0 → 214.0 °C": before → requested → read back, the unit once. */
export function logValues(r: WriteResult, p: PointMeta | undefined): string {
  const fmt = { decimals: p?.decimals ?? 1, unit: '' };
  const text = [r.before, r.requested, r.readback].map((v) => pointValueText(v, fmt)).join(' → ');
  const unit = p?.unit ?? r.unit;
  return unit && typeof r.requested === 'number' ? `${text} ${unit}` : text;
}

/** The log table (newest first), or why it cannot be shown. */
export function WriteLog({ entries, error, pointById, tz, now }: Props) {
  return (
    <div className="write-log" data-testid="write-log">
      <h3 className="write-log-title">
        Write log <span className="muted">(newest first)</span>
      </h3>
      {error && <p className="write-log-error">The write log is not available: {error}</p>}
      {!error && entries.length === 0 && <p className="muted">No setpoint changes on this machine yet.</p>}
      {entries.length > 0 && (
        <div className="table-scroll">
          <table className="point-table write-log-table">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">User</th>
                <th scope="col">Point</th>
                <th scope="col">Before → requested → read back</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((r) => {
                const p = pointById[r.pointId];
                const ok = r.outcome === 'written';
                return (
                  <tr key={r.id} data-testid={`write-log-row-${r.id}`} className={ok ? '' : 'write-log-abnormal'}>
                    <td className="mono">
                      {formatClock(r.at, tz)}
                      <span className="q-reason">{formatAgo(r.at, now)}</span>
                    </td>
                    <td>{r.user}</td>
                    <th scope="row">{p?.name ?? r.pointId}</th>
                    <td className="mono">{logValues(r, p)}</td>
                    <td>
                      <span className={`write-word write-word-${ok ? 'ok' : 'warn'}`}>{outcomeWord(r)}</span>
                      {r.reason && <span className="q-reason">{r.reason}</span>}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
