/**
 * A header nav button to a page, with a count of what waits there as a number (never a colour
 * alone) and the count in words for screen readers. Shared by the Recommendations and Modules
 * links; each decides who sees it and what it counts.
 */
import { routeHash, selectRoute, useNavigationStore, type Route } from '../stores/navigation';
import '../styles/reco-nav.css';

export interface NavCountLinkProps {
  page: 'recommendations' | 'modules';
  label: string;
  count: number;
  /** "3 waiting for a decision", for the count's label and the title. */
  countWords: (count: number) => string;
  /** The title without a count: what the page is for. */
  purpose: string;
  /** "none waiting for a decision": the title's end when the count is 0. */
  noneWords: string;
  testId: string;
  countTestId: string;
}

export function NavCountLink(p: NavCountLinkProps) {
  const route = useNavigationStore(selectRoute);
  const target: Route = { page: p.page };
  return (
    <a
      className="nav-btn nav-btn-compact"
      href={routeHash(target)}
      aria-current={route.page === p.page ? 'page' : undefined}
      title={`${p.purpose}: ${p.count === 0 ? p.noneWords : p.countWords(p.count)}`}
      data-testid={p.testId}
    >
      {p.label}
      {p.count > 0 && (
        <span className="nav-count" data-testid={p.countTestId} aria-label={p.countWords(p.count)}>
          {p.count}
        </span>
      )}
    </a>
  );
}
