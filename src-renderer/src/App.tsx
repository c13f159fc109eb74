/** The screen frame: banners and header fixed at the top, the routed page below. */
import { Banners } from './components/Banners';
import { Header } from './components/Header';
import { AlarmsPage } from './pages/AlarmsPage';
import { MachinePage } from './pages/MachinePage';
import { Overview } from './pages/Overview';
import { selectRoute, useNavigationStore } from './stores/navigation';

/** Root component. */
export function App() {
  const route = useNavigationStore(selectRoute);
  return (
    <div className="app">
      <div className="app-top">
        <Banners />
        <Header />
      </div>
      <div className="app-body" data-testid="app-body">
        {route.page === 'machine' ? <MachinePage key={route.machineId} machineId={route.machineId} /> : route.page === 'alarms' ? <AlarmsPage /> : <Overview />}
      </div>
    </div>
  );
}
