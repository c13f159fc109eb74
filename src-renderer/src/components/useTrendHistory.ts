/**
 * History of a machine's trend points for the chosen range, fetched with history.query at the
 * chart's pixel width and refreshed so the live ring buffer only ever has to fill the tail.
 */
import { useEffect, useState } from 'react';
import type { Transport } from '../../../src-preload/contract';
import type { XYSeries } from '../lib/downsample';
import { usePlantStore } from '../stores/plant';

export interface TrendHistory {
  series: Record<string, XYSeries>;
  /** Range and time the data was fetched for (to ignore answers for an old range). */
  key: string;
  error: string | null;
  loading: boolean;
}

/** Refetch so history and live tail always overlap, even past the ring buffer's capacity. */
const REFRESH_MS = 120_000;

/** Fetches and periodically refreshes history for `pointIds` over the last `rangeMs`. */
export function useTrendHistory(
  transport: Transport,
  machineId: string,
  pointIds: readonly string[],
  rangeMs: number,
  maxPoints: number,
  transportLive: boolean,
): TrendHistory {
  const idsKey = pointIds.join(',');
  const key = `${machineId}|${idsKey}|${rangeMs}`;
  const [state, setState] = useState<TrendHistory>({ series: {}, key: '', error: null, loading: true });
  useEffect(() => {
    if (idsKey === '' || maxPoints < 2 || !transportLive) return undefined;
    let cancelled = false;
    const ids = idsKey.split(',');
    const fetchOnce = async (): Promise<void> => {
      // The core's clock decides what "the last 15 min" is, not this browser's.
      const toMs = Math.round(Date.now() + usePlantStore.getState().clockOffsetMs);
      const res = await transport.call('history.query', {
        machineId,
        pointIds: ids.slice(0, 32),
        fromMs: Math.max(0, toMs - rangeMs),
        toMs,
        maxPoints: Math.max(2, Math.min(4000, Math.round(maxPoints))),
      });
      if (cancelled) return;
      if (!res.ok) {
        setState((s) => ({ ...s, key, error: `${res.error.code}: ${res.error.message}`, loading: false }));
        return;
      }
      const series: Record<string, XYSeries> = {};
      for (const s of res.value.series) series[s.pointId] = { t: s.t, v: s.v };
      setState({ series, key, error: null, loading: false });
    };
    void fetchOnce();
    const timer = setInterval(() => void fetchOnce(), REFRESH_MS);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, [transport, machineId, idsKey, rangeMs, maxPoints, key, transportLive]);
  return state.key === key ? state : { series: {}, key, error: null, loading: true };
}
