/**
 * Recommendations the console refused on arrival (bad signature, wrong plant, out of limits…):
 * when, which machine if it could be read, and why in words. Never actionable: there is no
 * button on this list, by design.
 */
import type { RefusedRecommendation } from '../../../src-preload/contract';
import { formatDateTime } from '../lib/format';
import { refusalTitle } from '../lib/reco';
import { RefusedIcon } from './RecoIcons';
import '../styles/reco-outcome.css';

/** The refused list. */
export function RecoRefused({
  refused,
  tz,
  machineName,
}: {
  refused: readonly RefusedRecommendation[];
  tz: string;
  machineName(id: string): string;
}) {
  if (refused.length === 0) return <p className="muted">Nothing refused.</p>;
  return (
    <ul className="reco-refused" data-testid="reco-refused-list">
      {refused.map((x) => (
        <li key={`${x.ref}-${x.receivedAt}`} className="reco-refused-row" data-testid="reco-refused" data-code={x.code}>
          <span className="reco-status reco-status-refused">
            <RefusedIcon size={20} className="reco-status-icon" />
            REFUSED
          </span>
          <span className="reco-refused-text">
            <strong data-testid="reco-refused-title">{refusalTitle(x.code)}</strong>
            <span data-testid="reco-refused-message">{x.message}</span>
            <span className="muted">
              {formatDateTime(x.receivedAt, tz)}
              {x.machineId ? ` · ${machineName(x.machineId)}` : ''} · ref {x.ref.length > 48 ? `${x.ref.slice(0, 48)}…` : x.ref}
            </span>
          </span>
        </li>
      ))}
    </ul>
  );
}
