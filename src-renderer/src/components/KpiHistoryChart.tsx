/** OEE and its factors over the current shift (kpi.history), on a 0–100 % axis. */
import { useEffect, useMemo, useState } from 'react';
import { CartesianGrid, Line, LineChart, XAxis, YAxis } from 'recharts';
import type { KpiSample, Kpis, Transport } from '../../../src-preload/contract';
import { formatHm } from '../lib/format';

const REFRESH_MS = 30_000;

/** Series styles: each line differs in dash pattern and width too, never in colour alone. */
export const KPI_LINES = [
  { key: 'oee', label: 'OEE', stroke: '#1F2933', width: 3, dash: undefined },
  { key: 'availability', label: 'Availability', stroke: '#3E6A8F', width: 2, dash: '8 4' },
  { key: 'performance', label: 'Performance', stroke: '#6B5B95', width: 2, dash: '2 3' },
  { key: 'quality', label: 'Quality', stroke: '#5E7F4F', width: 2, dash: '12 3 2 3' },
] as const;

interface Props {
  transport: Transport;
  machineId: string;
  shiftStart: number;
  shiftEnd: number;
  tz: string;
  width: number;
  live: boolean;
  /** The shift KPIs of the latest snapshot, drawn as the line's live end. */
  current: { kpis: Kpis; ts: number } | null;
}

type Row = { t: number; oee: number | null; availability: number | null; performance: number | null; quality: number | null };

const EMPTY_ROWS: Row[] = [];

const pct = (x: number | null): number | null => (x === null ? null : Math.round(x * 1000) / 10);

function toRows(samples: readonly KpiSample[]): Row[] {
  return samples.map((s) => ({
    t: s.t,
    oee: pct(s.oee),
    availability: pct(s.availability),
    performance: pct(s.performance),
    quality: pct(s.quality),
  }));
}

/** Hourly ticks across the shift. */
function hourTicks(from: number, to: number): number[] {
  const step = 60 * 60_000;
  const out: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) out.push(t);
  return out;
}

/** The shift KPI chart card. */
export function KpiHistoryChart({ transport, machineId, shiftStart, shiftEnd, tz, width, live, current }: Props) {
  const key = `${machineId}|${shiftStart}`;
  const [state, setState] = useState<{ key: string; rows: Row[]; error: string | null }>({ key: '', rows: [], error: null });
  useEffect(() => {
    if (!live) return undefined;
    let cancelled = false;
    const load = async (): Promise<void> => {
      const res = await transport.call('kpi.history', { machineId, fromMs: Math.max(0, Math.round(shiftStart)) });
      if (cancelled) return;
      if (res.ok) setState({ key, rows: toRows(res.value.samples), error: null });
      else setState((s) => ({ ...s, key, error: `${res.error.code}: ${res.error.message}` }));
    };
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, [transport, machineId, shiftStart, key, live]);
  const stored = state.key === key ? state.rows : EMPTY_ROWS;
  const lastStored = stored.length > 0 ? (stored[stored.length - 1]?.t ?? 0) : 0;
  // Samples come once a minute; the live end keeps the line reaching "now" between them.
  const curTs = current?.ts ?? 0;
  const curK = current?.kpis ?? null;
  const rows = useMemo(
    () =>
      live && curK && curTs > lastStored && curTs >= shiftStart
        ? [
            ...stored,
            {
              t: curTs,
              oee: pct(curK.oee),
              availability: pct(curK.availability),
              performance: pct(curK.performance),
              quality: pct(curK.quality),
            },
          ]
        : stored,
    [stored, live, curK, curTs, lastStored, shiftStart],
  );
  return (
    <figure className="card trend-card kpi-chart" data-testid="kpi-history-chart" data-points={rows.length}>
      <figcaption className="trend-caption">
        <span className="trend-name">KPIs this shift</span>
        <span className="trend-unit">[%]</span>
        <span className="kpi-legend">
          {KPI_LINES.map((l) => (
            <span key={l.key} className="legend-item">
              <svg width="34" height="12" aria-hidden="true">
                <line x1="1" y1="6" x2="33" y2="6" stroke={l.stroke} strokeWidth={l.width} strokeDasharray={l.dash} />
              </svg>
              {l.label}
            </span>
          ))}
        </span>
      </figcaption>
      {width > 0 && (
        <LineChart width={width} height={220} data={rows} margin={{ top: 8, right: 16, bottom: 4, left: 4 }}>
          <CartesianGrid stroke="#C3C9D0" strokeDasharray="2 4" vertical={false} />
          <XAxis
            dataKey="t"
            type="number"
            domain={[shiftStart, shiftEnd]}
            ticks={hourTicks(shiftStart, shiftEnd)}
            tickFormatter={(t: number) => formatHm(t, tz)}
            stroke="#4A5561"
            tick={{ fill: '#3A4550', fontSize: 14 }}
          />
          <YAxis
            domain={[0, 100]}
            ticks={[0, 25, 50, 75, 100]}
            unit=" %"
            width={64}
            stroke="#4A5561"
            tick={{ fill: '#3A4550', fontSize: 14 }}
          />
          {KPI_LINES.map((l) => (
            <Line
              key={l.key}
              type="linear"
              dataKey={l.key}
              stroke={l.stroke}
              strokeWidth={l.width}
              strokeDasharray={l.dash}
              dot={false}
              activeDot={false}
              isAnimationActive={false}
              connectNulls={false}
            />
          ))}
        </LineChart>
      )}
      {rows.length === 0 && <p className="trend-empty">{state.error ?? 'No KPI samples yet this shift.'}</p>}
    </figure>
  );
}
