/**
 * One machine on the overview: state, OEE with its factors, production counts and the key
 * process values. The whole tile is one touch target that opens the machine page.
 */
import type { MachineSnapshot } from '../../../src-preload/contract';
import { formatAgo, formatClock, formatDuration, formatNumber, formatPercent, withUnit } from '../lib/format';
import { selectIsLive, useConnectionStore } from '../stores/connection';
import { machineById, metaById, useMachinesStore, type MachineMeta } from '../stores/machines';
import { routeHash } from '../stores/navigation';
import { selectNow, selectTimezone, usePlantStore } from '../stores/plant';
import { KeyValueRow } from './KeyValueRow';
import { StateBadge } from './StateBadge';
import { TileAlarmBadge } from './TileAlarmBadge';
import { TileReason } from './TileReason';

/** Tile layouts: roomy (≤ 3 machines), narrow (4 in a row), rows2 and rows3 (two or three rows). */
export type Density = 'roomy' | 'narrow' | 'rows2' | 'rows3';

const pct = (r: number | null): number | null => (r === null ? null : r * 100);

/** Unit of the good/scrap counters ("pcs", "packs"), from the profile. */
export function countUnit(meta: MachineMeta | undefined): string {
  return meta?.points.find((p) => p.role === 'goodCount')?.unit || 'pcs';
}

function StateLine({ m, now, live, tz }: { m: MachineSnapshot; now: number; live: boolean; tz: string }) {
  if (!live) return <span className="tile-since">last known state</span>;
  if (m.state === 'offline') {
    return (
      <span className="tile-since">
        last seen {formatAgo(m.link.lastOkAt, now)}
        {m.link.lastOkAt ? ` · ${formatClock(m.link.lastOkAt, tz)}` : ''}
        {m.link.demoted ? (
          <strong className="tile-demoted" data-testid={`tile-demoted-${m.id}`}>
            {' '}
            · DEMOTED — polled every {formatDuration((m.link.demotedIntervalMs ?? 10_000) / 1000)}
          </strong>
        ) : null}
      </span>
    );
  }
  return <span className="tile-since">for {formatDuration((now - m.stateSince) / 1000)}</span>;
}

interface VariantProps {
  tz: string;
  m: MachineSnapshot;
  meta: MachineMeta | undefined;
  live: boolean;
  now: number;
  density: Density;
}

function KeyValues({ m, meta, live, now, density }: VariantProps) {
  if (!meta) return <span className="muted">Loading process values…</span>;
  return (
    <>
      {meta.points
        .filter((p) => p.key)
        .map((p) => (
          <KeyValueRow
            key={p.id}
            machine={m}
            point={p}
            transportLive={live}
            now={now}
            pollIntervalMs={meta.device.pollIntervalMs}
            reasonTap={density === 'roomy' || density === 'narrow'}
          />
        ))}
    </>
  );
}

/** One or four tiles in a row: every figure labelled in words, on its own line. */
function FullTile(props: VariantProps) {
  const { m, meta, live, now, density, tz } = props;
  const unit = countUnit(meta);
  const cycleDecimals = meta?.points.find((p) => p.role === 'cycleTime')?.decimals ?? 1;
  const k = m.shift;
  return (
    <>
      <header className="tile-head">
        <div className="tile-title">
          <h2 className="tile-name">{m.name}</h2>
          <span className="tile-model">{m.modelTitle || m.model}</span>
        </div>
        {!live && <span className="notlive-tag">NOT LIVE</span>}
      </header>
      <div className="tile-state">
        <StateBadge state={m.state} testId={`machine-state-${m.id}`} size={density === 'roomy' ? 'large' : 'normal'} />
        <StateLine m={m} now={now} live={live} tz={tz} />
      </div>
      <TileReason m={m} />
      <section className="tile-kpis" aria-label="Shift KPIs">
        <div className="oee">
          <span className="kpi-label">OEE · shift</span>
          <span className="oee-value" data-testid={`oee-${m.id}`}>
            {formatPercent(k.oee)}
          </span>
        </div>
        <dl className="factors">
          <div>
            <dt>Availability</dt>
            <dd>{formatPercent(k.availability)}</dd>
          </div>
          <div>
            <dt>Performance</dt>
            <dd>{formatPercent(k.performance)}</dd>
          </div>
          <div>
            <dt>Quality</dt>
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
            <span className="muted"> · {formatPercent(k.scrapRate)}</span>
          </dd>
        </div>
        <div>
          <dt>Throughput</dt>
          <dd>{withUnit(formatNumber(k.throughputPerHour, 0), `${unit}/h`)}</dd>
        </div>
      </dl>
      <section className="tile-values" aria-label="Key process values">
        <KeyValues {...props} />
      </section>
    </>
  );
}

/** Two or three rows of tiles: the same figures packed into lines, A/P/Q abbreviated. */
function PackedTile(props: VariantProps) {
  const { m, meta, live, now, density, tz } = props;
  const unit = countUnit(meta);
  const cycleDecimals = meta?.points.find((p) => p.role === 'cycleTime')?.decimals ?? 1;
  const k = m.shift;
  // Three rows leave one line for either output or, when values are not live, why.
  const stateInsteadOfOutput = density === 'rows3' && (m.state === 'offline' || !live);
  const production = (
    <div className="tile-line tile-prod-line">
      {formatNumber(k.goodCount, 0)} / {formatNumber(k.scrapCount, 0)} {unit} · scrap {formatPercent(k.scrapRate)} ·{' '}
      {withUnit(formatNumber(k.throughputPerHour, 0), `${unit}/h`)}
    </div>
  );
  return (
    <>
      <header className="tile-head">
        <h2 className="tile-name">{m.name}</h2>
        <StateBadge state={m.state} testId={`machine-state-${m.id}`} />
      </header>
      <TileReason m={m} />
      {(density === 'rows2' || stateInsteadOfOutput) && (
        <div className="tile-line tile-sub">
          {density === 'rows2' && <span className="tile-model-inline">{m.modelTitle || m.model} · </span>}
          <StateLine m={m} now={now} live={live} tz={tz} />
          {!live && <span className="notlive-tag">NOT LIVE</span>}
        </div>
      )}
      <div className="tile-line tile-kpi-line" aria-label="Shift KPIs">
        <span className="kpi-label">OEE</span>
        <span className="oee-value" data-testid={`oee-${m.id}`}>
          {formatPercent(k.oee)}
        </span>
        <span className="apq">
          A {formatNumber(pct(k.availability), 1)} · P {formatNumber(pct(k.performance), 1)} · Q {formatNumber(pct(k.quality), 1)} %
        </span>
      </div>
      {!stateInsteadOfOutput && production}
      {density === 'rows2' && (
        <div className="tile-line tile-prod-line">
          Cycle {withUnit(formatNumber(m.lastCycleTimeS, cycleDecimals), 's')}
          <span className="muted"> / ideal {withUnit(formatNumber(k.idealCycleTimeS, cycleDecimals), 's')}</span>
        </div>
      )}
      <section className="tile-values" aria-label="Key process values">
        <KeyValues {...props} />
      </section>
    </>
  );
}

/** The tile of machine `id`. */
export function MachineTile({ id, density }: { id: string; density: Density }) {
  const m = useMachinesStore(machineById(id));
  const meta = useMachinesStore(metaById(id));
  const live = useConnectionStore(selectIsLive);
  const now = usePlantStore(selectNow);
  const tz = usePlantStore(selectTimezone);
  if (!m) return null;
  const props: VariantProps = { m, meta, live, now, density, tz };
  return (
    <article className={`tile tile-${m.state} tile-${density}${live ? '' : ' tile-notlive'}`} data-testid={`machine-tile-${m.id}`}>
      <a className="tile-link" href={routeHash({ page: 'machine', machineId: m.id })} aria-label={`Open ${m.name}`} />
      <TileAlarmBadge machine={m} />
      {density === 'roomy' || density === 'narrow' ? <FullTile {...props} /> : <PackedTile {...props} />}
    </article>
  );
}
