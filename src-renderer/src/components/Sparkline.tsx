/** The last minutes of a value as a small line over its normal band (roomy tiles only). */
import type { RingBuffer } from '../lib/ringBuffer';
import type { Band } from '../lib/values';

interface Props {
  buf: RingBuffer | undefined;
  band: Band | null;
  now: number;
  windowMs: number;
  label: string;
}

const W = 200;
const H = 30;

/** SVG polyline; gaps (NaN) break the line so an outage is never bridged. */
export function Sparkline({ buf, band, now, windowMs, label }: Props) {
  const from = now - windowMs;
  const { t, v } = buf ? buf.toArrays(from) : { t: [], v: [] };
  let lo = band ? band.low : Number.POSITIVE_INFINITY;
  let hi = band ? band.high : Number.NEGATIVE_INFINITY;
  for (const x of v) {
    if (Number.isNaN(x)) continue;
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return <svg className="spark" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" aria-hidden="true" />;
  const pad = Math.max((hi - lo) * 0.1, 1e-6);
  const y = (val: number): number => H - ((val - (lo - pad)) / (hi - lo + 2 * pad)) * H;
  const x = (ts: number): number => ((ts - from) / windowMs) * W;
  const segments: string[] = [];
  let cur: string[] = [];
  for (let i = 0; i < t.length; i++) {
    const val = v[i] ?? Number.NaN;
    if (Number.isNaN(val)) {
      if (cur.length > 1) segments.push(cur.join(' '));
      cur = [];
      continue;
    }
    cur.push(`${x(t[i] ?? from).toFixed(1)},${y(val).toFixed(1)}`);
  }
  if (cur.length > 1) segments.push(cur.join(' '));
  return (
    <svg className="spark" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={label}>
      {band && <rect x="0" width={W} y={y(band.high)} height={Math.max(0, y(band.low) - y(band.high))} className="spark-band" />}
      {segments.map((pts, i) => (
        <polyline key={i} points={pts} className="spark-line" vectorEffect="non-scaling-stroke" />
      ))}
    </svg>
  );
}
