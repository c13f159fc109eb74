/**
 * One machine on the overview: state, OEE with its factors, production counts and the key
 * process values. The whole tile is one touch target that opens the machine page.
 */
import type { MachineSnapshot } from '../../../src-preload/contract';
import { formatAgo, formatDuration, formatNumber, formatPercent, withUnit } from '../lib/format';
import { selectIsLive, useConnectionStore } from '../stores/connection';
import { machineById, metaById, useMachinesStore, type MachineMeta } from '../stores/machines';
import { routeHash } from '../stores/navigation';
import { selectNow, usePlantStore } from '../stores/plant';
import { KeyValueRow } from './KeyValueRow';
import { StateBadge } from './StateBadge';

export type Density = 'roomy' | 'compact' | 'dense';

/** Unit of the good/scrap counters ("pcs", "packs"), from the profile. */
export function countUnit(meta: MachineMeta | undefined): string {
  return meta?.points.find((p) => p.role === 'goodCount')?.unit || 'pcs';
}

function StateLine({ m, now }: { m: MachineSnapshot; now: number }) {
  if (m.state === 'offline') {
    return <span className="tile-since">last seen {formatAgo(m.link.lastOkAt, now)}</span>;
  }
  return <span className="tile-since">for {formatDuration((now - m.stateSince) / 1000)}</span>;
}

/** The tile of machine `id`. */
export function MachineTile({ id, density }: { id: string; density: Density }) {
  const m = useMachinesStore(machineById(id));
  const meta = useMachinesStore(metaById(id));
  const live = useConnectionStore(selectIsLive);
  const now = usePlantStore(selectNow);
  if (!m) return null;
  const unit = countUnit(meta);
  const cycleDecimals = meta?.points.find((p) => p.role === 'cycleTime')?.decimals ?? 1;
  const keyPoints = meta?.points.filter((p) => p.key) ?? [];
  const k = m.shift;
  const short = density === 'dense';
  return (
    <article className={`tile tile-${m.state} tile-${density}${live ? '' : ' tile-notlive'}`} data-testid={`machine-tile-${m.id}`}>
      <a className="tile-link" href={routeHash({ page: 'machine', machineId: m.id })} aria-label={`Open ${m.name}`} />
      <header className="tile-head">
        <div className="tile-title">
          <h2 className="tile-name">{m.name}</h2>
          <span className="tile-model">{m.modelTitle || m.model}</span>
        </div>
        {!live && <span className="notlive-tag">NOT LIVE</span>}
      </header>
      <div className="tile-state">
        <StateBadge state={m.state} testId={`machine-state-${m.id}`} size={short ? 'normal' : 'large'} />
        <StateLine m={m} now={now} />
      </div>
      <section className="tile-kpis" aria-label="Shift KPIs">
        <div className="oee">
          <span className="kpi-label">OEE · shift</span>
          <span className="oee-value" data-testid={`oee-${m.id}`}>
            {formatPercent(k.oee)}
          </span>
        </div>
        <dl className="factors">
          <div>
            <dt>{short ? 'A' : 'Availability'}</dt>
            <dd>{formatPercent(k.availability)}</dd>
          </div>
          <div>
            <dt>{short ? 'P' : 'Performance'}</dt>
            <dd>{formatPercent(k.performance)}</dd>
          </div>
          <div>
            <dt>{short ? 'Q' : 'Quality'}</dt>
            <dd>{formatPercent(k.quality)}</dd>
          </div>
        </dl>
      </section>
      <dl className="tile-prod">
        <div>
          <dt>Last cycle</dt>
          <dd>
            {withUnit(formatNumber(m.lastCycleTimeS, cycleDecimals), 's')}
            <span className="muted"> / ideal {withUnit(formatNumber(k.idealCycleTimeS, cycleDecimals), 's')}</span>
          </dd>
        </div>
        <div>
          <dt>Good / scrap</dt>
          <dd>
            {formatNumber(k.goodCount, 0)} / {formatNumber(k.scrapCount, 0)} {unit}
            <span className="muted"> · scrap {formatPercent(k.scrapRate)}</span>
          </dd>
        </div>
        <div>
          <dt>Throughput</dt>
          <dd>{withUnit(formatNumber(k.throughputPerHour, 0), `${unit}/h`)}</dd>
        </div>
      </dl>
      <section className="tile-values" aria-label="Key process values">
        {!meta && <span className="muted">Loading process values…</span>}
        {meta &&
          keyPoints.map((p) => (
            <KeyValueRow key={p.id} machine={m} point={p} transportLive={live} now={now} pollIntervalMs={meta.device.pollIntervalMs} />
          ))}
      </section>
    </article>
  );
}
