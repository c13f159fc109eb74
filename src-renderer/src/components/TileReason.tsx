/**
 * What a tile's figures do not say by themselves: why the state is unknown (and that the KPIs
 * leave that time out), why a machine was never reached, and a noisy line. Shown as words with
 * an icon, never colour alone (docs/hmi-style.md).
 */
import type { MachineSnapshot } from '../../../src-preload/contract';
import { formatNumber } from '../lib/format';
import { WarningIcon } from './Icon';

/** The reason line(s) of machine `m`'s tile; nothing when the state needs no explaining. */
export function TileReason({ m }: { m: MachineSnapshot }) {
  const noise = m.link.noise;
  const why =
    m.state === 'unknown'
      ? `State unknown: ${m.stateReason ?? 'the device answers, but not its state'}. KPIs leave this time out.`
      : m.state === 'offline' && m.link.lastOkAt === null && m.link.lastError
        ? `Never reached: ${m.link.lastError.message}`
        : null;
  if (!why && !noise?.noisy) return null;
  return (
    <div className="tile-reasons">
      {why && (
        <p className="tile-reason" data-testid={`tile-reason-${m.id}`}>
          {why}
        </p>
      )}
      {noise?.noisy && (
        <p className="tile-noise" data-testid={`tile-noise-${m.id}`}>
          <WarningIcon size={18} className="tile-noise-icon" /> <strong>NOISY LINE</strong> — {formatNumber(noise.spoiled, 0)} of the last{' '}
          {formatNumber(noise.answers, 0)} answers spoiled
        </p>
      )}
    </div>
  );
}
