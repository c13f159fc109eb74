/**
 * The header on every screen, always in the same place: plant, where you are and the way back,
 * the current shift, and the plant's local time with its zone.
 */
import { formatClock, formatRange, zoneAbbrev } from '../lib/format';
import { AlarmCountButton } from './AlarmCountButton';
import { ModuleNavLink } from './ModuleNavLink';
import { RecoNavLink } from './RecoNavLink';
import { SessionControls } from './SessionControls';
import { AUDIT_ROLES } from '../stores/audit';
import { machineById, useMachinesStore } from '../stores/machines';
import { routeHash, selectLastMachineId, selectRoute, useNavigationStore } from '../stores/navigation';
import { selectNow, selectPlantInfo, usePlantStore } from '../stores/plant';

/** App header with navigation. */
export function Header() {
  const info = usePlantStore(selectPlantInfo);
  const now = usePlantStore(selectNow);
  const route = useNavigationStore(selectRoute);
  const lastMachineId = useNavigationStore(selectLastMachineId);
  const machineId = route.page === 'machine' ? route.machineId : lastMachineId;
  const machine = useMachinesStore(machineById(machineId ?? ''));
  const tz = info?.timezone ?? 'UTC';
  return (
    <header className="app-header">
      <div className="hdr-plant" title={info ? `Console ${info.version}` : undefined}>
        <span className="hdr-label">Plant</span>
        <span className="hdr-plant-name" data-testid="plant-name">
          {info?.name ?? 'Connecting…'}
        </span>
      </div>
      <nav className="hdr-nav" aria-label="Screens">
        <a
          className="nav-btn"
          href={routeHash({ page: 'overview' })}
          aria-current={route.page === 'overview' ? 'page' : undefined}
          data-testid="nav-overview"
        >
          Overview
        </a>
        {machineId && (
          <a
            className="nav-btn nav-machine"
            href={routeHash({ page: 'machine', machineId })}
            aria-current={route.page === 'machine' ? 'page' : undefined}
            data-testid="nav-machine"
          >
            <span className="nav-sep" aria-hidden="true">
              ›
            </span>
            {machine?.name ?? machineId}
          </a>
        )}
        <RecoNavLink role={info?.caller.role} />
        <ModuleNavLink role={info?.caller.role} />
        <a
          className="nav-btn nav-uplink"
          href={routeHash({ page: 'uplink' })}
          aria-current={route.page === 'uplink' ? 'page' : undefined}
          title="What leaves this plant: every point's class and the uplink's state"
          data-testid="nav-uplink"
        >
          What leaves
        </a>
        {info && info.caller.role !== 'supplier-support' && (
          <a
            className="nav-btn nav-btn-compact"
            href={routeHash({ page: 'remote' })}
            aria-current={route.page === 'remote' ? 'page' : undefined}
            title="Remote support: grant, watch and end sessions of the supplier's support staff"
            data-testid="nav-remote"
          >
            Remote
          </a>
        )}
        {info && AUDIT_ROLES.includes(info.caller.role) && (
          <a
            className="nav-btn nav-btn-compact"
            href={routeHash({ page: 'audit' })}
            aria-current={route.page === 'audit' ? 'page' : undefined}
            title="Audit log: who did what, when, on which machine"
            data-testid="nav-audit"
          >
            Audit
          </a>
        )}
      </nav>
      <AlarmCountButton />
      <SessionControls />
      {/* The shift sits above the clock: one column, so the header keeps to one row at 1366 px. */}
      <div className="hdr-clock" data-testid="clock">
        <span className="hdr-label" data-testid="shift">
          {info ? (
            <>
              Shift <strong className="hdr-shift-name">{info.shift.name}</strong> {formatRange(info.shift.start, info.shift.end, tz)}
            </>
          ) : (
            'Shift —'
          )}
        </span>
        <span>
          <time className="hdr-time" dateTime={new Date(now).toISOString()}>
            {formatClock(now, tz)}
          </time>{' '}
          <span className="hdr-zone">
            {zoneAbbrev(now, tz)}
            {zoneAbbrev(now, tz) !== tz ? ` · ${tz}` : ''}
          </span>
        </span>
      </div>
    </header>
  );
}
