/**
 * The header's way to the Modules page, on every screen, with the number of modules needing a
 * person (waiting for pairing, not healthy, a threat event, tamper, unknown firmware, a missed
 * heartbeat) as a number, never a colour alone. Hidden for supplier support, who may not list
 * the plant's modules, and on a console without module management.
 */
import type { CallerRole } from '../../../src-preload/contract';
import { selectNoModuleManager, useModulesAttention, useModulesStore } from '../stores/modules';
import { routeHash, selectRoute, useNavigationStore } from '../stores/navigation';
import { MODULE_READ_ROLES } from './ModuleWords';
import '../styles/reco-nav.css';

/** The nav button; nothing for roles that may not read the modules, or before the plant info is known. */
export function ModuleNavLink({ role }: { role: CallerRole | undefined }) {
  const route = useNavigationStore(selectRoute);
  const count = useModulesAttention();
  const missing = useModulesStore(selectNoModuleManager);
  if (role === undefined || !MODULE_READ_ROLES.includes(role) || missing) return null;
  const title =
    count === 0
      ? 'IoT modules: health, firmware and updates; none needs attention'
      : `IoT modules: health, firmware and updates; ${count} ${count === 1 ? 'needs' : 'need'} attention`;
  return (
    <a
      className="nav-btn nav-btn-compact"
      href={routeHash({ page: 'modules' })}
      aria-current={route.page === 'modules' ? 'page' : undefined}
      title={title}
      data-testid="nav-modules"
    >
      Modules
      {count > 0 && (
        <span className="nav-count" data-testid="nav-modules-count" aria-label={`${count} ${count === 1 ? 'needs' : 'need'} attention`}>
          {count}
        </span>
      )}
    </a>
  );
}
