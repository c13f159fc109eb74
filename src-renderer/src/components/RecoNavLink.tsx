/**
 * The header's way to the recommendations, on every screen, with the count of those waiting
 * for a decision. Hidden for supplier support, who send recommendations rather than decide them.
 */
import type { CallerRole } from '../../../src-preload/contract';
import { selectPendingCount, useRecoStore } from '../stores/reco';
import { NavCountLink } from './NavCountLink';

/** The nav button; nothing for supplier support or before the plant info is known. */
export function RecoNavLink({ role }: { role: CallerRole | undefined }) {
  const pending = useRecoStore(selectPendingCount);
  if (role === undefined || role === 'supplier-support') return null;
  return (
    <NavCountLink
      page="recommendations"
      label="Recommendations"
      count={pending}
      countWords={(n) => `${n} waiting for a decision`}
      purpose="Recommendations from the supplier"
      noneWords="none waiting for a decision"
      testId="nav-recommendations"
      countTestId="nav-reco-count"
    />
  );
}
