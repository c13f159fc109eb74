/** The screen frame: banners and header fixed at the top, the routed page below. */
import { useEffect } from 'react';
import { Banners } from './components/Banners';
import { Header } from './components/Header';
import { LockScreen } from './components/LockScreen';
import { LoginScreen } from './components/LoginScreen';
import { SetupScreen } from './components/SetupScreen';
import { AlarmsPage } from './pages/AlarmsPage';
import { AuditPage } from './pages/AuditPage';
import { MachinePage } from './pages/MachinePage';
import { ModulesPage } from './pages/ModulesPage';
import { Overview } from './pages/Overview';
import { RecommendationsPage } from './pages/RecommendationsPage';
import { RemotePage } from './pages/RemotePage';
import { UplinkPage } from './pages/UplinkPage';
import { selectLocked, selectLoginBlocks, selectLoginShown, useAuthStore } from './stores/auth';
import { startModulesFeed } from './stores/modules';
import { selectRoute, useNavigationStore } from './stores/navigation';
import { startRecoFeed } from './stores/reco';
import { startRemoteFeed } from './stores/remote';
import { selectSetupShown, setupPortFor, startSetup, useSetupStore } from './stores/setup';
import { startUplinkFeed } from './stores/uplink';
import { useTransport } from './transport/context';

/** Root component. */
export function App() {
  const route = useNavigationStore(selectRoute);
  const transport = useTransport();
  // The uplink state feeds the banners on every screen, not only its page.
  useEffect(() => startUplinkFeed(transport), [transport]);
  // Remote sessions feed the on-site banner on every screen too.
  useEffect(() => startRemoteFeed(transport), [transport]);
  // The recommendations feed the header's count of those waiting for a decision on every screen.
  useEffect(() => startRecoFeed(transport), [transport]);
  // The modules feed the header's count of modules needing attention on every screen.
  useEffect(() => startModulesFeed(transport), [transport]);
  // First start of a configured plant: no admin account yet, so creating one covers everything.
  useEffect(() => startSetup(setupPortFor(transport.kind)), [transport]);
  const setupShown = useSetupStore(selectSetupShown);
  const loginShown = useAuthStore(selectLoginShown);
  const loginBlocks = useAuthStore(selectLoginBlocks);
  // A session that just ended gets the lock screen; otherwise the plain sign-in.
  const signIn = useAuthStore(selectLocked) ? <LockScreen /> : <LoginScreen />;
  if (setupShown)
    return (
      <div className="app">
        <SetupScreen />
      </div>
    );
  if (loginBlocks) return <div className="app">{signIn}</div>;
  return (
    <div className="app">
      <div className="app-top">
        <Banners />
        <Header />
      </div>
      <div className="app-body" data-testid="app-body">
        {route.page === 'machine' ? (
          <MachinePage key={route.machineId} machineId={route.machineId} />
        ) : route.page === 'alarms' ? (
          <AlarmsPage />
        ) : route.page === 'uplink' ? (
          <UplinkPage />
        ) : route.page === 'remote' ? (
          <RemotePage />
        ) : route.page === 'audit' ? (
          <AuditPage />
        ) : route.page === 'recommendations' ? (
          <RecommendationsPage />
        ) : route.page === 'modules' ? (
          <ModulesPage />
        ) : (
          <Overview />
        )}
      </div>
      {loginShown && signIn}
    </div>
  );
}
