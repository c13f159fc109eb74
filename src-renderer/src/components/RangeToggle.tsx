/** Big two-way toggle for the trend range (15 min / 1 h). */
import type { TrendRange } from '../stores/navigation';

const OPTIONS: { value: TrendRange; label: string }[] = [
  { value: '15m', label: '15 min' },
  { value: '1h', label: '1 h' },
];

/** Segmented buttons; the pressed one is marked by aria-pressed, fill and a check mark. */
export function RangeToggle({ value, onChange }: { value: TrendRange; onChange: (r: TrendRange) => void }) {
  return (
    <div className="seg" role="group" aria-label="Trend range">
      {OPTIONS.map((o) => (
        <button
          key={o.value}
          type="button"
          className={`seg-btn${o.value === value ? ' seg-on' : ''}`}
          aria-pressed={o.value === value}
          data-testid={`range-${o.value}`}
          onClick={() => onChange(o.value)}
        >
          {o.value === value && <span aria-hidden="true">✓ </span>}
          {o.label}
        </button>
      ))}
    </div>
  );
}
