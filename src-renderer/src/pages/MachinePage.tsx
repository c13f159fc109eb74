/** Level 2–4 for one machine: state, link, KPIs, trends, shift KPI history, raw points. */
import { useEffect, useMemo } from 'react';
import { KpiCards } from '../components/KpiCards';
import { KpiHistoryChart } from '../components/KpiHistoryChart';
import { LinkStats } from '../components/LinkStats';
import { MachineAlarms } from '../components/MachineAlarms';
import { countUnit } from '../components/MachineTile';
import { PointTable } from '../components/PointTable';
import { RangeToggle } from '../components/RangeToggle';
import { SetpointPanel } from '../components/SetpointPanel';
import { StateBadge } from '../components/StateBadge';
import { TrendChart } from '../components/TrendChart';
import { useElementWidth } from '../components/hooks';
import { useTrendHistory } from '../components/useTrendHistory';
import { formatAgo, formatClock, formatDuration, formatRange } from '../lib/format';
import { useTransport } from '../transport/context';
import { selectIsLive, useConnectionStore } from '../stores/connection';
import { machineById, metaById, selectMachinesActions, selectMachinesLoaded, useMachinesStore } from '../stores/machines';
import { TREND_RANGE_MS, selectNavActions, selectTrendRange, useNavigationStore } from '../stores/navigation';
import { selectNow, selectPlantInfo, usePlantStore } from '../stores/plant';

const EMPTY: never[] = [];

/** Numeric points worth a trend: process values with a number type. */
const isTrendable = (p: { role: string; type: string }): boolean => p.role === 'process' && p.type !== 'bool' && p.type !== 'string';

/** The machine page for `machineId`. */
export function MachinePage({ machineId }: { machineId: string }) {
  const transport = useTransport();
  const m = useMachinesStore(machineById(machineId));
  const meta = useMachinesStore(metaById(machineId));
  const loaded = useMachinesStore(selectMachinesLoaded);
  const machinesActions = useMachinesStore(selectMachinesActions);
  const live = useConnectionStore(selectIsLive);
  const now = usePlantStore(selectNow);
  const info = usePlantStore(selectPlantInfo);
  const range = useNavigationStore(selectTrendRange);
  const nav = useNavigationStore(selectNavActions);
  const [gridRef, gridWidth] = useElementWidth();
  // Two charts per row; bucketed so a 1 px resize does not refetch history.
  const chartWidth = gridWidth > 0 ? Math.floor((gridWidth - 16) / 2) - 34 : 0;
  const maxPoints = Math.max(100, Math.round(chartWidth / 50) * 50);
  const trendPoints = useMemo(() => meta?.points.filter(isTrendable) ?? EMPTY, [meta]);
  const trendIds = useMemo(() => trendPoints.map((p) => p.id), [trendPoints]);
  const rangeMs = TREND_RANGE_MS[range];
  const history = useTrendHistory(transport, machineId, trendIds, rangeMs, chartWidth > 0 ? maxPoints : 0, live);

  useEffect(() => {
    if (loaded && m && !meta && live) void machinesActions.loadMeta(transport, machineId);
  }, [loaded, m, meta, live, machinesActions, transport, machineId]);

  useEffect(() => {
    document.title = `${m?.name ?? machineId} — Plant Console`;
    return () => {
      document.title = 'Plant Console';
    };
  }, [m?.name, machineId]);

  if (!m) {
    return (
      <main className="page page-machine page-message" data-testid="machine-page">
        <p>{loaded ? `No machine "${machineId}" in this plant.` : 'Loading machine…'}</p>
        <a className="btn" href="#/">
          Back to overview
        </a>
      </main>
    );
  }
  const tz = info?.timezone ?? 'UTC';
  const unit = countUnit(meta);
  const cycleDecimals = meta?.points.find((p) => p.role === 'cycleTime')?.decimals ?? 1;
  const rollingMin = Math.round((m.rolling.to - m.rolling.from) / 60_000);
  return (
    <main className="page page-machine" data-testid="machine-page">
      <header className={`machine-head machine-${m.state}`}>
        <div className="machine-title">
          <h1 data-testid="machine-name">{m.name}</h1>
          <span className="muted">
            {m.modelTitle || m.model}
            {m.simulated ? ' · simulated' : ''}
          </span>
        </div>
        <div className="machine-state">
          <StateBadge state={m.state} testId={`machine-state-${m.id}`} size="large" />
          <span className="tile-since">
            {m.state === 'offline'
              ? `last seen ${formatAgo(m.link.lastOkAt, now)}${m.link.lastOkAt ? ` · ${formatClock(m.link.lastOkAt, tz)}` : ''}`
              : `for ${formatDuration((now - m.stateSince) / 1000)}`}
          </span>
        </div>
      </header>
      <MachineAlarms machineId={m.id} />
      <div className="machine-top">
        <LinkStats machine={m} meta={meta} now={now} tz={tz} />
        <section className="card kpi-card-group" aria-labelledby="kpi-title">
          <h2 id="kpi-title" className="card-title">
            KPIs <span className="muted">(ISO 22400; ratios in %)</span>
          </h2>
          <KpiCards
            title={info ? `Shift ${info.shift.name} ${formatRange(info.shift.start, info.shift.end, tz)}` : 'Shift'}
            kpis={m.shift}
            countUnit={unit}
            cycleDecimals={cycleDecimals}
            live={live}
            testId="kpis-shift"
          />
          <KpiCards
            title={`Last ${rollingMin > 0 ? rollingMin : 60} min`}
            kpis={m.rolling}
            countUnit={unit}
            cycleDecimals={cycleDecimals}
            live={live}
            testId="kpis-rolling"
          />
        </section>
      </div>
      <SetpointPanel machine={m} meta={meta} info={info} live={live} now={now} tz={tz} />
      <section className="trends" aria-labelledby="trends-title">
        <div className="section-head">
          <h2 id="trends-title">Process trends</h2>
          <span className="muted">
            plant time ({tz}){history.error ? ` · history unavailable: ${history.error}` : ''}
          </span>
          <RangeToggle value={range} onChange={nav.setTrendRange} />
        </div>
        <div className="trend-grid" ref={gridRef} data-testid="trend-grid" data-range={range}>
          {trendPoints.map((p) => (
            <TrendChart
              key={p.id}
              machineId={m.id}
              point={p}
              history={history.series[p.id]}
              rangeMs={rangeMs}
              now={now}
              tz={tz}
              width={chartWidth}
              loading={history.loading}
            />
          ))}
          {info && (
            <KpiHistoryChart
              transport={transport}
              machineId={m.id}
              shiftStart={info.shift.start}
              shiftEnd={info.shift.end}
              tz={tz}
              width={gridWidth > 0 ? gridWidth - 30 : 0}
              live={live}
              current={{ kpis: m.shift, ts: m.ts }}
            />
          )}
        </div>
      </section>
      {meta && (
        <PointTable machine={m} points={meta.points} transportLive={live} now={now} pollIntervalMs={meta.device.pollIntervalMs} tz={tz} />
      )}
    </main>
  );
}
