/**
 * The header's way to the Modules page, on every screen, with the number of modules needing a
 * person (waiting for pairing, not healthy, a threat event, tamper, unknown firmware, a missed
 * heartbeat). Hidden for supplier support, who may not list the plant's modules, and on a
 * console without module management.
 */
import type { CallerRole } from '../../../src-preload/contract';
import { selectNoModuleManager, useModulesAttention, useModulesStore } from '../stores/modules';
import { MODULE_READ_ROLES } from './ModuleWords';
import { NavCountLink } from './NavCountLink';

/** The nav button; nothing for roles that may not read the modules, or before the plant info is known. */
export function ModuleNavLink({ role }: { role: CallerRole | undefined }) {
  const count = useModulesAttention();
  const missing = useModulesStore(selectNoModuleManager);
  if (role === undefined || !MODULE_READ_ROLES.includes(role) || missing) return null;
  return (
    <NavCountLink
      page="modules"
      label="Modules"
      count={count}
      countWords={(n) => `${n} ${n === 1 ? 'needs' : 'need'} attention`}
      purpose="IoT modules: health, firmware and updates"
      noneWords="none needs attention"
      testId="nav-modules"
      countTestId="nav-modules-count"
    />
  );
}
