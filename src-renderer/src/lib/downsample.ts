/**
 * Reduces a time series to about the number of pixels it is drawn on. Min/max per bucket keeps
 * spikes visible (an operator must see the excursion, not an average that hides it).
 */
export interface XYSeries {
  t: number[];
  v: (number | null)[];
}

/** Keeps at most ~maxPoints samples: per time bucket its first gap, its min and its max, in time order. */
export function downsampleMinMax(series: XYSeries, maxPoints: number): XYSeries {
  const n = series.t.length;
  if (n <= maxPoints || maxPoints < 4 || n === 0) return { t: series.t.slice(), v: series.v.slice() };
  const t0 = series.t[0] ?? 0;
  const t1 = series.t[n - 1] ?? t0;
  const buckets = Math.max(1, Math.floor(maxPoints / 2));
  const width = (t1 - t0) / buckets || 1;
  const outT: number[] = [];
  const outV: (number | null)[] = [];
  let i = 0;
  for (let b = 0; b < buckets && i < n; b++) {
    const end = b === buckets - 1 ? Number.POSITIVE_INFINITY : t0 + (b + 1) * width;
    let minI = -1;
    let maxI = -1;
    let gapI = -1;
    for (; i < n && (series.t[i] ?? 0) < end; i++) {
      const v = series.v[i];
      if (v === null || v === undefined || Number.isNaN(v)) {
        if (gapI < 0) gapI = i;
        continue;
      }
      if (minI < 0 || v < (series.v[minI] as number)) minI = i;
      if (maxI < 0 || v > (series.v[maxI] as number)) maxI = i;
    }
    // A gap must survive downsampling, or the chart would bridge an outage with a straight line.
    const keep = [gapI, minI, maxI].filter((k, idx, arr) => k >= 0 && arr.indexOf(k) === idx).sort((a, b) => a - b);
    for (const k of keep) {
      outT.push(series.t[k] ?? 0);
      outV.push(k === gapI ? null : (series.v[k] ?? null));
    }
  }
  return { t: outT, v: outV };
}

/** Merges history with a live tail: live samples newer than the last history sample are appended. */
export function appendTail(history: XYSeries, tail: XYSeries): XYSeries {
  const last = history.t.length > 0 ? (history.t[history.t.length - 1] ?? Number.NEGATIVE_INFINITY) : Number.NEGATIVE_INFINITY;
  const t = history.t.slice();
  const v = history.v.slice();
  for (let i = 0; i < tail.t.length; i++) {
    const ti = tail.t[i] ?? 0;
    if (ti <= last) continue;
    const vi = tail.v[i];
    t.push(ti);
    v.push(vi === undefined || vi === null || Number.isNaN(vi) ? null : vi);
  }
  return { t, v };
}

/** Drops samples older than `from`. */
export function trimBefore(series: XYSeries, from: number): XYSeries {
  let i = 0;
  while (i < series.t.length && (series.t[i] ?? 0) < from) i++;
  return i === 0 ? series : { t: series.t.slice(i), v: series.v.slice(i) };
}
