/**
 * The Modules page (#/modules): the IoT modules on the machines, each with its health, firmware,
 * slot, heartbeat, tamper switch, Modbus clients, update and threat events; the modules waiting
 * for pairing with their fingerprint; the approved updates; the firmware releases and the
 * refused bundles. Operators and anyone not signed in read it without buttons; the console
 * refuses their actions anyway.
 */
import { useEffect } from 'react';
import { FirmwareImport } from '../components/FirmwareImport';
import { FirmwareReleases } from '../components/FirmwareReleases';
import { FirmwareRollouts } from '../components/FirmwareRollouts';
import { ModuleCard } from '../components/ModuleCard';
import { ToneIcon } from '../components/ModuleIcons';
import { PendingModuleCard } from '../components/ModulePairing';
import { actBlockedReason, listOrder, MODULE_ACT_ROLES, modulesSummary, windowText } from '../components/ModuleWords';
import { selectAuthActions, selectCanSignIn, useAuthStore } from '../stores/auth';
import { selectModulesActions, selectModulesLoadError, selectModulesNotice, selectModulesState, useModulesStore } from '../stores/modules';
import { selectNow, selectPlantInfo, usePlantStore } from '../stores/plant';
import { selectMe, useRemoteStore } from '../stores/remote';
import { useTransport } from '../transport/context';
import '../styles/modules.css';

/** The page. */
export function ModulesPage() {
  const transport = useTransport();
  const state = useModulesStore(selectModulesState);
  const loadError = useModulesStore(selectModulesLoadError);
  const notice = useModulesStore(selectModulesNotice);
  const actions = useModulesStore(selectModulesActions);
  const info = usePlantStore(selectPlantInfo);
  const now = usePlantStore(selectNow);
  const me = useRemoteStore(selectMe);
  const canSignIn = useAuthStore(selectCanSignIn);
  const auth = useAuthStore(selectAuthActions);
  const tz = info?.timezone ?? 'UTC';
  const role = info?.caller.role;
  const mayAct = role !== undefined && MODULE_ACT_ROLES.includes(role);
  const readOnly = actBlockedReason(role);
  const needsPin = me?.session?.hasPin === true;

  useEffect(() => {
    document.title = 'Modules — Plant Console';
    void actions.load(transport);
    return () => {
      document.title = 'Plant Console';
    };
  }, [actions, transport]);

  const machineName = (id: string | null): string | null => (id === null ? null : (info?.machines.find((m) => m.id === id)?.name ?? id));
  const moduleName = (moduleId: string): string => {
    const m = state?.modules.find((x) => x.id === moduleId);
    const name = machineName(m?.machineId ?? null);
    return name ? `${name} (${moduleId})` : moduleId;
  };
  const pending = state?.modules.filter((m) => m.pairing === 'pending') ?? [];
  const listed = state ? listOrder(state.modules) : [];
  const signIn = canSignIn && !mayAct && (
    <button type="button" className="btn" onClick={() => auth.openLogin()} data-testid="modules-sign-in">
      Sign in to act
    </button>
  );

  return (
    <main className="page page-modules" data-testid="modules-page">
      <header className="mod-page-head">
        <div>
          <h1>Modules</h1>
          <span className="muted" data-testid="modules-summary">
            {state ? modulesSummary(state, now) : loadError ? 'Not loaded' : 'Loading…'}
          </span>
        </div>
        {state && (
          <dl className="mod-page-facts">
            <dt>Maintenance window</dt>
            <dd data-testid="modules-window">{windowText(state.maintenanceWindow)}</dd>
            <dt>Release keys</dt>
            <dd data-testid="modules-root">
              {state.root
                ? `${state.root.keys.length} trusted, ${state.root.threshold} must sign each release`
                : 'none pinned: no firmware can be accepted'}
            </dd>
          </dl>
        )}
      </header>
      {readOnly && info && !loadError && (
        <p className="write-readonly mod-readonly" data-testid="modules-readonly">
          {readOnly} {signIn}
        </p>
      )}
      {loadError && (
        <p className="page-message mod-load-error" role="alert" data-testid="modules-load-error">
          {loadError.text} {signIn}
        </p>
      )}
      {notice && (
        <div className={`mod-notice mod-notice-${notice.tone}`} role="status" data-testid="modules-notice">
          <ToneIcon tone={notice.tone === 'ok' ? 'ok' : 'warn'} size={20} className="mod-notice-icon" />
          <span data-testid="modules-notice-text">{notice.text}</span>
          <button type="button" className="btn mod-btn" onClick={() => actions.dismiss()} data-testid="modules-notice-dismiss">
            OK
          </button>
        </div>
      )}
      {state && (
        <div className="mod-layout">
          <div className="mod-col">
            {pending.length > 0 && (
              <section aria-labelledby="mod-pending-title" className="mod-section" data-testid="modules-pending">
                <h2 id="mod-pending-title" className="mod-section-title">
                  Waiting for pairing ({pending.length})
                </h2>
                {pending.map((m) => (
                  <PendingModuleCard key={m.id} m={m} machineName={machineName(m.machineId)} mayAct={mayAct} needsPin={needsPin} />
                ))}
              </section>
            )}
            <section aria-labelledby="mod-list-title" className="mod-section" data-testid="modules-list">
              <h2 id="mod-list-title" className="mod-section-title">
                Modules ({listed.length})
              </h2>
              {listed.length === 0 ? (
                <p className="muted">No paired module yet. A module asks for pairing the first time it reaches this console.</p>
              ) : (
                listed.map((m) => <ModuleCard key={m.id} m={m} machineName={machineName(m.machineId)} now={now} tz={tz} />)
              )}
            </section>
          </div>
          <div className="mod-col">
            {state.rollouts.length > 0 && (
              <section aria-labelledby="mod-rollouts-title" className="mod-section card" data-testid="modules-rollouts">
                <h2 id="mod-rollouts-title" className="mod-section-title">
                  Approved updates
                </h2>
                <FirmwareRollouts rollouts={state.rollouts} mayAct={mayAct} tz={tz} moduleName={moduleName} />
              </section>
            )}
            <section aria-labelledby="mod-fw-title" className="mod-section card" data-testid="modules-firmware">
              <h2 id="mod-fw-title" className="mod-section-title">
                Firmware releases ({state.releases.length})
              </h2>
              <FirmwareImport root={state.root} mayAct={mayAct} now={now} tz={tz} />
              <FirmwareReleases state={state} mayAct={mayAct} needsPin={needsPin} now={now} tz={tz} moduleName={moduleName} />
            </section>
          </div>
        </div>
      )}
    </main>
  );
}
