/**
 * The header's way to the recommendations, on every screen, with the count of those waiting
 * for a decision as a number (never a colour alone). Hidden for supplier support, who send
 * recommendations rather than decide them.
 */
import type { CallerRole } from '../../../src-preload/contract';
import { routeHash, selectRoute, useNavigationStore } from '../stores/navigation';
import { selectPendingCount, useRecoStore } from '../stores/reco';
import '../styles/reco-nav.css';

/** The nav button; nothing for supplier support or before the plant info is known. */
export function RecoNavLink({ role }: { role: CallerRole | undefined }) {
  const route = useNavigationStore(selectRoute);
  const pending = useRecoStore(selectPendingCount);
  if (role === undefined || role === 'supplier-support') return null;
  const title =
    pending === 0
      ? 'Recommendations from the supplier: none waiting for a decision'
      : `Recommendations from the supplier: ${pending} waiting for a decision`;
  return (
    <a
      className="nav-btn nav-btn-compact"
      href={routeHash({ page: 'recommendations' })}
      aria-current={route.page === 'recommendations' ? 'page' : undefined}
      title={title}
      data-testid="nav-recommendations"
    >
      Recommendations
      {pending > 0 && (
        <span className="nav-count" data-testid="nav-reco-count" aria-label={`${pending} waiting for a decision`}>
          {pending}
        </span>
      )}
    </a>
  );
}
