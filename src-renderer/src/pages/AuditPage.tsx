/** The audit page (#/audit): who did what, when, on which machine, with filters and paging into the past. */
import { useEffect, useMemo } from 'react';
import { LockoutPanel } from '../components/LockoutPanel';
import { formatAgo, formatDateTime } from '../lib/format';
import {
  AUDIT_ROLES,
  KIND_TEXT,
  RANGE_TEXT,
  detailText,
  isRefused,
  selectAudit,
  selectAuditActions,
  useAuditStore,
  type AuditRange,
} from '../stores/audit';
import { selectNow, selectPlantInfo, usePlantStore } from '../stores/plant';
import { useTransport } from '../transport/context';
import '../styles/audit.css';

const RANGES: readonly AuditRange[] = ['shift', '24h', '7d'];

/** The audit page. */
export function AuditPage() {
  const transport = useTransport();
  const info = usePlantStore(selectPlantInfo);
  const now = usePlantStore(selectNow);
  const { filters, records, points, nextBeforeSeq, loading, error } = useAuditStore(selectAudit);
  const actions = useAuditStore(selectAuditActions);
  const tz = info?.timezone ?? 'UTC';
  const shiftStart = info?.shift.start ?? null;
  const allowed = info === null || AUDIT_ROLES.includes(info.caller.role);
  // The filters' key: reloading on it, not on the ticking clock, keeps the list still while it is read.
  const filterKey = JSON.stringify(filters);

  useEffect(() => {
    document.title = 'Audit log — Plant Console';
    return () => {
      document.title = 'Plant Console';
    };
  }, []);

  const ready = info !== null;
  useEffect(() => {
    if (!ready) return;
    void actions.load(transport, { now: usePlantStore.getState().now, shiftStart });
  }, [transport, actions, filterKey, ready, shiftStart]);

  const users = useMemo(() => [...new Set(records.map((r) => r.user).filter((u): u is string => u !== null))].sort(), [records]);
  const machineName = (id: string | null): string => (id === null ? '—' : (info?.machines.find((m) => m.id === id)?.name ?? id));

  return (
    <main className="page page-audit" data-testid="audit-page">
      <header className="audit-head">
        <h1>Audit log</h1>
        <p className="muted">
          Every sign-in, setpoint change, acknowledgement and remote session, newest first. Times in plant time ({tz}). The log is
          hash-chained: “plant-console audit verify” proves nothing was changed.
        </p>
      </header>
      {info?.caller.role === 'admin' && <LockoutPanel now={now} tz={tz} />}
      {!allowed && (
        <p className="page-message audit-refused" data-testid="audit-refused">
          Your role ({info?.caller.role}) may not read the audit log. Maintenance and administrators may.
        </p>
      )}
      <section className="audit-filters" aria-label="Filters">
        <div className="audit-filter-row">
          <span className="audit-filter-label">Time</span>
          <div className="seg" role="group" aria-label="Time range">
            {RANGES.map((r) => (
              <button
                key={r}
                type="button"
                className={`seg-btn${filters.range === r ? ' seg-on' : ''}`}
                aria-pressed={filters.range === r}
                onClick={() => actions.setFilters({ range: r })}
                data-testid={`audit-range-${r}`}
              >
                {RANGE_TEXT[r]}
              </button>
            ))}
          </div>
          <label className="audit-field">
            <span className="audit-filter-label">User</span>
            <input
              className="audit-input"
              list="audit-users"
              value={filters.user}
              placeholder="Everyone"
              onChange={(e) => actions.setFilters({ user: e.target.value })}
              data-testid="audit-filter-user"
            />
            <datalist id="audit-users">
              {users.map((u) => (
                <option key={u} value={u} />
              ))}
            </datalist>
          </label>
          <label className="audit-field">
            <span className="audit-filter-label">Machine</span>
            <select
              className="audit-input"
              value={filters.machineId}
              onChange={(e) => actions.setFilters({ machineId: e.target.value })}
              data-testid="audit-filter-machine"
            >
              <option value="">All machines</option>
              {info?.machines.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name}
                </option>
              ))}
            </select>
          </label>
        </div>
        <div className="audit-filter-row">
          <span className="audit-filter-label">Kind</span>
          <div className="audit-chips" role="group" aria-label="Kinds of record">
            {Object.entries(KIND_TEXT).map(([kind, text]) => {
              const on = filters.kinds.includes(kind);
              return (
                <button
                  key={kind}
                  type="button"
                  className={`audit-chip${on ? ' audit-chip-on' : ''}`}
                  aria-pressed={on}
                  onClick={() => actions.toggleKind(kind)}
                  data-testid={`audit-filter-kind-${kind}`}
                >
                  <span className="audit-chip-mark" aria-hidden="true">
                    {on ? '✓' : ''}
                  </span>
                  {text}
                </button>
              );
            })}
            {filters.kinds.length > 0 && (
              <button
                type="button"
                className="audit-chip audit-chip-clear"
                onClick={() => actions.setFilters({ kinds: [] })}
                data-testid="audit-filter-kind-clear"
              >
                All kinds
              </button>
            )}
          </div>
        </div>
      </section>
      {error && (
        <p className="page-message audit-refused" data-testid="audit-error">
          {error}
        </p>
      )}
      {!error && (
        <p className="muted audit-count" data-testid="audit-count">
          {loading && records.length === 0
            ? 'Loading the audit log…'
            : `${records.length} record${records.length === 1 ? '' : 's'}${nextBeforeSeq !== null ? ' shown, older ones below' : ''}`}
        </p>
      )}
      {records.length > 0 && (
        <table className="audit-table" data-testid="audit-table">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">What</th>
              <th scope="col">Who</th>
              <th scope="col">Machine</th>
              <th scope="col">Details</th>
              <th scope="col">Session</th>
            </tr>
          </thead>
          <tbody>
            {records.map((r) => (
              <tr key={r.seq} className={isRefused(r) ? 'audit-row-refused' : undefined} data-testid={`audit-row-${r.seq}`}>
                <td className="audit-time">
                  <time dateTime={new Date(r.at).toISOString()}>{formatDateTime(r.at, tz)}</time>
                  <span className="muted">{formatAgo(r.at, now)}</span>
                </td>
                <td className="audit-kind">{KIND_TEXT[r.kind] ?? r.kind}</td>
                <td>
                  <span className="audit-user">{r.user ?? 'the console'}</span>
                  {(r.role || r.origin) && (
                    <span className="muted">{[r.role, r.origin === 'remote' ? 'remote' : null].filter(Boolean).join(' · ')}</span>
                  )}
                </td>
                <td>{machineName(r.machineId)}</td>
                <td className="audit-detail" data-testid={`audit-detail-${r.seq}`}>
                  {isRefused(r) && (
                    <span className="audit-refused-tag" aria-hidden="true">
                      ◆{' '}
                    </span>
                  )}
                  {detailText(r, points, tz)}
                </td>
                <td className="mono audit-session" title={r.sessionId ?? undefined}>
                  {r.sessionId ? r.sessionId.slice(0, 8) : '—'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!loading && !error && records.length === 0 && <p className="page-message">No records match these filters.</p>}
      {nextBeforeSeq !== null && (
        <button
          type="button"
          className="btn audit-older"
          disabled={loading}
          onClick={() => void actions.load(transport, { now: usePlantStore.getState().now, shiftStart }, true)}
          data-testid="audit-load-older"
        >
          {loading ? 'Loading…' : 'Load older'}
        </button>
      )}
    </main>
  );
}
