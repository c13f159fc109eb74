/** KPI cards for one window (shift so far, or the rolling window): OEE, its factors, cycle, output. */
import type { Kpis } from '../../../src-preload/contract';
import { formatDuration, formatNumber, formatPercent, withUnit } from '../lib/format';

interface Props {
  title: string;
  kpis: Kpis;
  countUnit: string;
  cycleDecimals: number;
  live: boolean;
  testId: string;
}

function Card({ label, value, sub, big }: { label: string; value: string; sub?: string; big?: boolean }) {
  return (
    <div className={`kpi-card${big ? ' kpi-card-big' : ''}`}>
      <span className="kpi-label">{label}</span>
      <span className="kpi-value">{value}</span>
      {sub && <span className="kpi-sub">{sub}</span>}
    </div>
  );
}

/** One row of KPI cards for one window; rows for different windows line up column by column. */
export function KpiCards({ title, kpis: k, countUnit, cycleDecimals, live, testId }: Props) {
  return (
    <section className={`kpi-group${live ? '' : ' is-notlive'}`} data-testid={testId} aria-label={title}>
      <h3 className="kpi-group-title">
        {title}
        {!live && <span className="notlive-tag">NOT LIVE</span>}
      </h3>
      <div className="kpi-cards">
        <Card label="OEE" value={formatPercent(k.oee)} big sub="A × P × Q" />
        <Card
          label="Availability"
          value={formatPercent(k.availability)}
          sub={`run ${formatDuration(k.runTimeS)} · down ${formatDuration(k.downTimeS)}`}
        />
        <Card
          label="Performance"
          value={formatPercent(k.performance)}
          sub={`ideal cycle ${withUnit(formatNumber(k.idealCycleTimeS, cycleDecimals), 's')}`}
        />
        <Card
          label="Quality"
          value={formatPercent(k.quality)}
          sub={`${formatNumber(k.goodCount, 0)} good / ${formatNumber(k.scrapCount, 0)} scrap ${countUnit}`}
        />
        <Card
          label="Avg cycle"
          value={withUnit(formatNumber(k.avgCycleTimeS, cycleDecimals), 's')}
          sub={`ideal ${withUnit(formatNumber(k.idealCycleTimeS, cycleDecimals), 's')}`}
        />
        <Card label="Throughput" value={withUnit(formatNumber(k.throughputPerHour, 0), `${countUnit}/h`)} />
        <Card label="Scrap rate" value={formatPercent(k.scrapRate)} sub={`${formatNumber(k.scrapCount, 0)} ${countUnit}`} />
        <Card label="Offline" value={formatDuration(k.offlineTimeS)} sub={`planned ${formatDuration(k.plannedTimeS)}`} />
      </div>
    </section>
  );
}
