/** Level 4 diagnostics of a machine's Modbus link: polls, failures, last error, device address. */
import type { MachineSnapshot } from '../../../src-preload/contract';
import { formatAgo, formatDateTime, formatDuration, formatNumber } from '../lib/format';
import type { MachineMeta } from '../stores/machines';

interface Props {
  machine: MachineSnapshot;
  meta: MachineMeta | undefined;
  now: number;
  tz: string;
}

const LINK_WORD = { online: 'ONLINE', offline: 'OFFLINE', connecting: 'CONNECTING' } as const;

/** The link card. */
export function LinkStats({ machine, meta, now, tz }: Props) {
  const l = machine.link;
  const total = l.pollsOk + l.pollsFailed;
  return (
    <section className="card link-card" aria-labelledby="link-title" data-testid="link-stats">
      <h2 id="link-title" className="card-title">
        Device link
      </h2>
      <p className={`link-state link-${l.state}`}>
        <strong>{LINK_WORD[l.state]}</strong> <span className="muted">for {formatDuration((now - l.since) / 1000)}</span>
      </p>
      <dl className="stat-list">
        <div>
          <dt>Polls OK</dt>
          <dd data-testid="polls-ok">{formatNumber(l.pollsOk, 0)}</dd>
        </div>
        <div>
          <dt>Polls failed</dt>
          <dd data-testid="polls-failed">
            {formatNumber(l.pollsFailed, 0)}
            {total > 0 && <span className="muted"> ({formatNumber((l.pollsFailed / total) * 100, 1)} %)</span>}
          </dd>
        </div>
        <div>
          <dt>Failures in a row</dt>
          <dd>{formatNumber(l.consecutiveFailures, 0)}</dd>
        </div>
        <div>
          <dt>Last poll</dt>
          <dd>{l.lastPollMs === null ? '—' : `${formatNumber(l.lastPollMs, 0)} ms`}</dd>
        </div>
        <div>
          <dt>Polls skipped</dt>
          <dd data-testid="link-overruns" title="A poll that took longer than the poll interval skips the next one rather than run late">
            {formatNumber(l.overruns ?? 0, 0)}
            {l.lateness && l.lateness.count > 0 && (
              <span className="muted"> · 99 % on time within {formatNumber(l.lateness.p99Ms, l.lateness.p99Ms < 10 ? 1 : 0)} ms</span>
            )}
          </dd>
        </div>
        <div>
          <dt>Last good read</dt>
          <dd>
            {formatAgo(l.lastOkAt, now)}
            {l.lastOkAt ? <span className="muted"> · {formatDateTime(l.lastOkAt, tz)}</span> : null}
          </dd>
        </div>
        {l.demoted && (
          <div className="stat-wide" data-testid="link-demoted">
            <dt>Polling</dt>
            <dd className="link-error">
              <strong>DEMOTED</strong> — polled every {formatDuration((l.demotedIntervalMs ?? 10_000) / 1000)} until it answers, so its
              neighbours on the line keep their rate
            </dd>
          </div>
        )}
        {l.line && (
          <div className="stat-wide">
            <dt>Line</dt>
            <dd>{l.line}</dd>
          </div>
        )}
        {l.noise && l.noise.answers > 0 && (
          <div className="stat-wide" data-testid="link-noise">
            <dt>Line quality</dt>
            <dd className={l.noise.noisy ? 'link-error' : undefined}>
              {l.noise.noisy ? <strong>NOISY</strong> : 'good'} — {formatNumber(l.noise.spoiled, 0)} of the last{' '}
              {formatNumber(l.noise.answers, 0)} answers spoiled (bad CRC, cut frames){l.noise.noisy ? '; data comes through retries' : ''}
            </dd>
          </div>
        )}
        {l.errorCounts && Object.keys(l.errorCounts).length > 0 && (
          <div className="stat-wide" data-testid="link-error-counts">
            <dt>Errors</dt>
            <dd>
              {Object.entries(l.errorCounts)
                .sort((a, b) => b[1] - a[1])
                .map(([code, n]) => `${code} ${formatNumber(n, 0)}`)
                .join(' · ')}
            </dd>
          </div>
        )}
        <div className="stat-wide">
          <dt>Last error</dt>
          <dd className={l.lastError ? 'link-error' : 'muted'}>{l.lastError ? `${l.lastError.code}: ${l.lastError.message}` : 'none'}</dd>
        </div>
        {meta && (
          <div className="stat-wide">
            <dt>Device</dt>
            <dd>
              {meta.device.transport} {meta.device.address} · unit {meta.device.unitId} · poll every{' '}
              {formatNumber(meta.device.pollIntervalMs, 0)} ms
            </dd>
          </div>
        )}
      </dl>
    </section>
  );
}
