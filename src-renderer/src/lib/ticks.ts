/** Axis ticks on round numbers (1, 2, 2.5, 5 × 10^n), so an operator reads the scale at a glance. */

/** A step of about (hi - lo) / count, rounded to 1, 2, 2.5 or 5 times a power of ten. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0) || count < 1) return 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const nice = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10;
  return nice * mag;
}

/** Domain widened to round numbers around [lo, hi], and the ticks inside it. */
export function niceTicks(lo: number, hi: number, count = 5): { domain: [number, number]; ticks: number[] } {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { domain: [0, 1], ticks: [0, 1] };
  if (hi <= lo) {
    const d = Math.abs(lo) * 0.05 || 1;
    lo -= d;
    hi += d;
  }
  const step = niceStep(hi - lo, count);
  const start = Math.floor(lo / step) * step;
  const end = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  // Rounding to the step's precision avoids 0.30000000000000004 labels.
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  for (let t = start; t <= end + step / 2; t += step) ticks.push(Number(t.toFixed(digits)));
  return { domain: [ticks[0] ?? start, ticks[ticks.length - 1] ?? end], ticks };
}

/** Decimals that show the difference between neighbouring ticks. */
export function tickDecimals(step: number): number {
  if (!(step > 0)) return 0;
  const s = step.toString();
  const dot = s.indexOf('.');
  return step >= 1 && dot < 0 ? 0 : Math.max(0, Math.min(6, dot < 0 ? -Math.floor(Math.log10(step)) : s.length - dot - 1));
}
