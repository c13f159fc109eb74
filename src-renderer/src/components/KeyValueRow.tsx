/** One key process value on a tile: name, value with unit, band bar, trend arrow, or "—" and why. */
import { useState } from 'react';
import type { MachineSnapshot, PointMeta } from '../../../src-preload/contract';
import { NO_VALUE, formatNumber, formatPointValue, withUnit } from '../lib/format';
import { liveBuffer } from '../lib/liveSamples';
import { valueLiveness } from '../lib/liveness';
import { deviationOf, trendOf, trendThreshold } from '../lib/values';
import { selectTick, useTickStore } from '../stores/tick';
import { BandBar } from './BandBar';
import { DeviationIcon, TrendIcon } from './Icon';
import { NotLive, ReasonDetail } from './NotLive';

const TREND_WINDOW_MS = 30_000;

interface Props {
  machine: MachineSnapshot;
  point: PointMeta;
  transportLive: boolean;
  now: number;
  pollIntervalMs: number;
  /**
   * The "—" is its own 44 px button revealing the reason. Packed tiles have no room for that:
   * there the dash only carries a title and the tile opens the machine page with the reason.
   */
  reasonTap?: boolean;
}

const TREND_WORD = { rising: 'rising', falling: 'falling', steady: 'steady' } as const;

/** The row; re-renders on the ≤ 10 Hz tick for its trend. */
export function KeyValueRow({ machine, point, transportLive, now, pollIntervalMs, reasonTap = true }: Props) {
  useTickStore(selectTick);
  const [reasonOpen, setReasonOpen] = useState(false);
  const pv = machine.values[point.id];
  const testId = `value-${machine.id}-${point.id}`;
  const status = valueLiveness(pv, machine, transportLive, now, pollIntervalMs);
  const num = status.live && typeof pv?.value === 'number' ? pv.value : null;
  const deviation = num !== null && point.normal ? deviationOf(num, point.normal) : 'normal';
  const trend =
    num !== null ? trendOf(liveBuffer(machine.id, point.id), pv?.ts ?? now, TREND_WINDOW_MS, trendThreshold(point.normal, num)) : null;
  const bandText = point.normal
    ? `normal ${formatNumber(point.normal.low, point.decimals)}–${formatNumber(point.normal.high, point.decimals)} ${point.unit}`
    : '';
  return (
    <div className={`kv-row${deviation !== 'normal' ? ' kv-deviation' : ''}${status.live ? '' : ' kv-notlive'}`}>
      <span className="kv-name">{point.name}</span>
      <span className="kv-value">
        {status.live ? (
          <>
            {deviation !== 'normal' && (
              <span className="dev-tag">
                <DeviationIcon />
                {deviation === 'high' ? 'HIGH' : 'LOW'}
              </span>
            )}
            <span className="value-text" data-testid={testId}>
              {withUnit(formatPointValue(pv?.value, point), point.unit)}
            </span>
          </>
        ) : reasonTap ? (
          <NotLive reason={status.reason ?? 'Not live.'} open={reasonOpen} onToggle={() => setReasonOpen((o) => !o)} testId={testId} />
        ) : (
          <span className="value-text not-live-dash" data-testid={testId} title={status.reason ?? 'Not live.'}>
            {NO_VALUE}
          </span>
        )}
      </span>
      <span className="kv-trend" aria-label={trend ? `trend ${TREND_WORD[trend]}` : 'no trend'}>
        {trend && <TrendIcon trend={trend} />}
      </span>
      {!status.live && reasonOpen && (
        <span className="kv-reason">
          <ReasonDetail reason={status.reason ?? 'Not live.'} />
        </span>
      )}
      {point.normal && (
        <span className="kv-bar">
          {num !== null ? (
            <BandBar value={num} band={point.normal} deviation={deviation} label={`${point.name} ${bandText}`} />
          ) : (
            <span className="band-bar band-empty" />
          )}
          <span className="kv-band-text">{bandText}</span>
        </span>
      )}
    </div>
  );
}
