/**
 * Trend of one process value: history from the core plus the live tail from the ring buffer,
 * downsampled to the chart's pixel width, with the normal band behind the line.
 */
import { useMemo } from 'react';
import { CartesianGrid, Line, LineChart, ReferenceArea, XAxis, YAxis } from 'recharts';
import type { PointMeta } from '../../../src-preload/contract';
import { appendTail, downsampleMinMax, trimBefore, type XYSeries } from '../lib/downsample';
import { formatHm, formatNumber } from '../lib/format';
import { liveBuffer } from '../lib/liveSamples';
import { niceTicks, tickDecimals } from '../lib/ticks';

export const CHART_HEIGHT = 210;

interface Props {
  machineId: string;
  point: PointMeta;
  history: XYSeries | undefined;
  rangeMs: number;
  /** Right edge of the time axis (plant clock); changes once a second and re-merges the tail. */
  now: number;
  tz: string;
  width: number;
  loading: boolean;
}

/** Time-axis ticks on round minutes in plant time: every 3 min for 15 min, every 10 min for 1 h. */
export function timeTicks(from: number, to: number, rangeMs: number): number[] {
  const step = rangeMs <= 15 * 60_000 ? 3 * 60_000 : 10 * 60_000;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return ticks;
}

/** Y domain covering the data and the normal band, with a little air. */
export function yDomain(series: XYSeries, band: PointMeta['normal']): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of series.v) {
    if (v === null || Number.isNaN(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (band) {
    lo = Math.min(lo, band.low);
    hi = Math.max(hi, band.high);
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  const pad = Math.max((hi - lo) * 0.08, Math.abs(hi) * 0.01, 1e-6);
  return [lo - pad, hi + pad];
}

/** One chart card; the container carries data-testid="trend-chart-<pointId>". */
export function TrendChart({ machineId, point, history, rangeMs, now, tz, width, loading }: Props) {
  const from = now - rangeMs;
  const data = useMemo(() => {
    const buf = liveBuffer(machineId, point.id);
    const hist = history ?? { t: [], v: [] };
    const lastHist = hist.t.length > 0 ? (hist.t[hist.t.length - 1] ?? from) : from;
    const tail = buf ? buf.toArrays(lastHist) : { t: [], v: [] };
    const merged = trimBefore(appendTail(hist, tail), from);
    const ds = downsampleMinMax(merged, Math.max(50, Math.round(width)));
    return ds.t.map((t, i) => ({ t, v: ds.v[i] ?? null }));
    // `now` is the refresh trigger: the ring buffer is mutable and read here on purpose.
  }, [machineId, point.id, history, from, width]);
  const y = useMemo(() => {
    const [lo, hi] = yDomain({ t: [], v: data.map((d) => d.v) }, point.normal);
    return niceTicks(lo, hi, 5);
  }, [data, point.normal]);
  const yDecimals = tickDecimals((y.ticks[1] ?? 1) - (y.ticks[0] ?? 0));
  const ticks = timeTicks(from, now, rangeMs);
  const points = data.filter((d) => d.v !== null).length;
  const band = point.normal
    ? `normal ${formatNumber(point.normal.low, point.decimals)}–${formatNumber(point.normal.high, point.decimals)} ${point.unit}`
    : 'no normal band in profile';
  return (
    <figure className="card trend-card" data-testid={`trend-chart-${point.id}`} data-points={points}>
      <figcaption className="trend-caption">
        <span className="trend-name">{point.name}</span>
        <span className="trend-unit">{point.unit ? `[${point.unit}]` : ''}</span>
        <span className="trend-band">{band}</span>
      </figcaption>
      {width > 0 && (
        <LineChart width={width} height={CHART_HEIGHT} data={data} margin={{ top: 8, right: 16, bottom: 4, left: 4 }}>
          <CartesianGrid stroke="#C3C9D0" strokeDasharray="2 4" vertical={false} />
          {point.normal && (
            <ReferenceArea
              y1={point.normal.low}
              y2={point.normal.high}
              fill="#BFCFDF"
              fillOpacity={0.55}
              stroke="none"
              ifOverflow="hidden"
            />
          )}
          <XAxis
            dataKey="t"
            type="number"
            domain={[from, now]}
            ticks={ticks}
            tickFormatter={(t: number) => formatHm(t, tz)}
            allowDataOverflow
            stroke="#4A5561"
            tick={{ fill: '#3A4550', fontSize: 14 }}
          />
          <YAxis
            domain={y.domain}
            ticks={y.ticks}
            width={64}
            tickFormatter={(v: number) => formatNumber(v, yDecimals)}
            stroke="#4A5561"
            tick={{ fill: '#3A4550', fontSize: 14 }}
            allowDataOverflow
          />
          <Line
            type="linear"
            dataKey="v"
            stroke="#24405C"
            strokeWidth={2}
            dot={false}
            activeDot={false}
            isAnimationActive={false}
            connectNulls={false}
          />
        </LineChart>
      )}
      {points === 0 && <p className="trend-empty">{loading ? 'Loading history…' : 'No good samples in this range.'}</p>}
    </figure>
  );
}
