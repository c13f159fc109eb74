/** A process value against its normal band: where it sits, and whether it left the band. */
import { barGeometry, type Band, type Deviation } from '../lib/values';

interface Props {
  value: number;
  band: Band;
  deviation: Deviation;
  label: string;
}

/** Horizontal bar: grey track, muted normal band, dark marker (amber when outside the band). */
export function BandBar({ value, band, deviation, label }: Props) {
  const g = barGeometry(value, band);
  return (
    <div className="band-bar" role="img" aria-label={label}>
      <div className="band-normal" style={{ left: `${g.bandFrom}%`, width: `${g.bandTo - g.bandFrom}%` }} />
      <div className={`band-marker dev-${deviation}${g.offScale ? ' off-scale' : ''}`} style={{ left: `${g.marker}%` }} />
    </div>
  );
}
