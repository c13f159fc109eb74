/** The screen frame: banners and header fixed at the top, the routed page below. */
import { useEffect } from 'react';
import { Banners } from './components/Banners';
import { Header } from './components/Header';
import { LoginScreen } from './components/LoginScreen';
import { AlarmsPage } from './pages/AlarmsPage';
import { AuditPage } from './pages/AuditPage';
import { MachinePage } from './pages/MachinePage';
import { Overview } from './pages/Overview';
import { RemotePage } from './pages/RemotePage';
import { UplinkPage } from './pages/UplinkPage';
import { selectLoginBlocks, selectLoginShown, useAuthStore } from './stores/auth';
import { selectRoute, useNavigationStore } from './stores/navigation';
import { startRemoteFeed } from './stores/remote';
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
  const loginShown = useAuthStore(selectLoginShown);
  const loginBlocks = useAuthStore(selectLoginBlocks);
  if (loginBlocks) {
    return (
      <div className="app">
        <LoginScreen />
      </div>
    );
  }
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
        ) : (
          <Overview />
        )}
      </div>
      {loginShown && <LoginScreen />}
    </div>
  );
}
