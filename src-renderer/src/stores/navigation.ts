/** Which page is shown, kept in location.hash so reload and the back button work. */
import { create } from 'zustand';

export type Route =
  | { page: 'overview' }
  | { page: 'machine'; machineId: string }
  | { page: 'alarms' }
  | { page: 'uplink' }
  | { page: 'remote' }
  | { page: 'audit' }
  | { page: 'recommendations' }
  | { page: 'modules' };

export type TrendRange = '15m' | '1h';

export const TREND_RANGE_MS: Record<TrendRange, number> = { '15m': 15 * 60_000, '1h': 60 * 60_000 };

/** Route of a hash: "#/machine/ID", "#/alarms", "#/uplink", "#/remote", "#/audit", "#/recommendations", "#/modules", or anything else → overview. */
export function parseHash(hash: string): Route {
  if (/^#\/alarms\/?$/.test(hash)) return { page: 'alarms' };
  if (/^#\/uplink\/?$/.test(hash)) return { page: 'uplink' };
  if (/^#\/remote\/?$/.test(hash)) return { page: 'remote' };
  if (/^#\/audit\/?$/.test(hash)) return { page: 'audit' };
  if (/^#\/recommendations\/?$/.test(hash)) return { page: 'recommendations' };
  if (/^#\/modules\/?$/.test(hash)) return { page: 'modules' };
  const m = /^#\/machine\/([^/?#]+)\/?$/.exec(hash);
  if (m?.[1]) {
    try {
      return { page: 'machine', machineId: decodeURIComponent(m[1]) };
    } catch {
      return { page: 'overview' };
    }
  }
  return { page: 'overview' };
}

/** Hash of a route. */
export function routeHash(route: Route): string {
  if (route.page === 'alarms') return '#/alarms';
  if (route.page === 'uplink') return '#/uplink';
  if (route.page === 'remote') return '#/remote';
  if (route.page === 'audit') return '#/audit';
  if (route.page === 'recommendations') return '#/recommendations';
  if (route.page === 'modules') return '#/modules';
  return route.page === 'machine' ? `#/machine/${encodeURIComponent(route.machineId)}` : '#/';
}

export interface NavigationState {
  route: Route;
  /** The machine last opened, so the header can offer the way back to it. */
  lastMachineId: string | null;
  trendRange: TrendRange;
  actions: {
    /** Sets the hash; the hashchange listener then syncs the route. */
    navigate(route: Route): void;
    syncFromHash(hash: string): void;
    setTrendRange(range: TrendRange): void;
  };
}

const initialRoute: Route = typeof location === 'undefined' ? { page: 'overview' } : parseHash(location.hash);

export const useNavigationStore = create<NavigationState>()((set, get) => ({
  route: initialRoute,
  lastMachineId: initialRoute.page === 'machine' ? initialRoute.machineId : null,
  trendRange: '15m',
  actions: {
    navigate(route) {
      const hash = routeHash(route);
      if (typeof location !== 'undefined' && location.hash !== hash) location.hash = hash;
      get().actions.syncFromHash(hash);
    },
    syncFromHash(hash) {
      const route = parseHash(hash);
      const cur = get().route;
      const same = cur.page === route.page && (route.page !== 'machine' || (cur.page === 'machine' && cur.machineId === route.machineId));
      if (same) return;
      set({ route, lastMachineId: route.page === 'machine' ? route.machineId : get().lastMachineId });
    },
    setTrendRange(trendRange) {
      set({ trendRange });
    },
  },
}));

export const selectRoute = (s: NavigationState): Route => s.route;
export const selectLastMachineId = (s: NavigationState): string | null => s.lastMachineId;
export const selectTrendRange = (s: NavigationState): TrendRange => s.trendRange;
export const selectNavActions = (s: NavigationState): NavigationState['actions'] => s.actions;
