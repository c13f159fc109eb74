/**
 * Remote support as this window sees it: the grants and change requests (remote.update), who
 * this window is (session.info), the join code of the grant just made (shown once, kept only
 * here until dismissed), and, for a supplier-support window, the page it shows reported to
 * the site.
 */
import { create } from 'zustand';
import type {
  ChangeRequest,
  RemoteGrant,
  RemoteScope,
  RemoteState,
  RemoteSummary,
  SessionInfoView,
  Transport,
} from '../../../src-preload/contract';
import { routeHash, useNavigationStore } from './navigation';

export interface RemoteStoreState {
  state: RemoteState | null;
  me: SessionInfoView | null;
  /** The code of the grant just made: shown once, forgotten when dismissed. */
  joinCode: { grantId: string; code: string } | null;
  error: string | null;
  /** What is under way: 'grant', a grant id being ended, a request id being decided. */
  busy: string | null;
  actions: {
    load(t: Transport): Promise<void>;
    grant(t: Transport, req: { account: string; scope: RemoteScope; machines?: string[]; durationMin?: number }): Promise<boolean>;
    end(t: Transport, grantId: string): Promise<void>;
    confirm(t: Transport, requestId: string, pin?: string): Promise<ChangeRequest | null>;
    reject(t: Transport, requestId: string): Promise<void>;
    propose(t: Transport, req: { machineId: string; pointId: string; value: number | boolean }): Promise<ChangeRequest | null>;
    summary(t: Transport, grantId: string): Promise<RemoteSummary | null>;
    dismissCode(): void;
    clearError(): void;
  };
}

const looksLikeState = (x: unknown): x is RemoteState =>
  typeof x === 'object' && x !== null && Array.isArray((x as RemoteState).grants) && Array.isArray((x as RemoteState).requests);

export const useRemoteStore = create<RemoteStoreState>()((set, get) => {
  const fail = (message: string): void => set({ error: message });
  return {
    state: null,
    me: null,
    joinCode: null,
    error: null,
    busy: null,
    actions: {
      async load(t) {
        const [list, me] = await Promise.all([t.call('remote.list', {}), t.call('session.info', {})]);
        set({ state: list.ok ? list.value : null, me: me.ok ? me.value : null });
      },
      async grant(t, req) {
        set({ busy: 'grant', error: null });
        const r = await t.call('remote.grant', req);
        set({ busy: null });
        if (!r.ok) {
          fail(r.error.message);
          return false;
        }
        set({ joinCode: { grantId: r.value.grant.id, code: r.value.joinCode } });
        return true;
      },
      async end(t, grantId) {
        set({ busy: grantId, error: null });
        const r = await t.call('remote.end', { grantId });
        set({ busy: null, ...(get().joinCode?.grantId === grantId ? { joinCode: null } : {}) });
        if (!r.ok) fail(r.error.message);
      },
      async confirm(t, requestId, pin) {
        set({ busy: requestId, error: null });
        const r = await t.call('remote.confirm', { requestId, ...(pin ? { pin } : {}) });
        set({ busy: null });
        if (!r.ok) {
          fail(r.error.message);
          return null;
        }
        return r.value;
      },
      async reject(t, requestId) {
        set({ busy: requestId, error: null });
        const r = await t.call('remote.reject', { requestId });
        set({ busy: null });
        if (!r.ok) fail(r.error.message);
      },
      async propose(t, req) {
        set({ busy: 'propose', error: null });
        const r = await t.call('remote.propose', req);
        set({ busy: null });
        if (!r.ok) {
          fail(r.error.message);
          return null;
        }
        return r.value;
      },
      async summary(t, grantId) {
        const r = await t.call('remote.summary', { grantId });
        if (!r.ok) {
          fail(r.error.message);
          return null;
        }
        return r.value;
      },
      dismissCode: () => set({ joinCode: null }),
      clearError: () => set({ error: null }),
    },
  };
});

export const selectRemoteState = (s: RemoteStoreState): RemoteState | null => s.state;
export const selectMe = (s: RemoteStoreState): SessionInfoView | null => s.me;
export const selectRemoteActions = (s: RemoteStoreState): RemoteStoreState['actions'] => s.actions;
export const selectJoinCode = (s: RemoteStoreState): RemoteStoreState['joinCode'] => s.joinCode;
export const selectRemoteError = (s: RemoteStoreState): string | null => s.error;
export const selectRemoteBusy = (s: RemoteStoreState): string | null => s.busy;

/** Live grants (at most one per support account). */
export function liveGrants(state: RemoteState | null): RemoteGrant[] {
  return state?.grants.filter((g) => g.state === 'live') ?? [];
}

/** Requests still waiting for the site. */
export function pendingRequests(state: RemoteState | null): ChangeRequest[] {
  return state?.requests.filter((r) => r.state === 'pending' || r.state === 'applying') ?? [];
}

/** Feeds the store from `transport`; a supplier-support window also reports its page. Returns the stop function. */
export function startRemoteFeed(transport: Transport): () => void {
  const { actions } = useRemoteStore.getState();
  const offUpdate = transport.subscribe('remote.update', (payload) => {
    if (looksLikeState(payload)) useRemoteStore.setState({ state: payload });
  });
  const offStatus = transport.onStatus((status) => {
    if (status === 'connected') void actions.load(transport);
    else useRemoteStore.setState({ me: null });
  });
  let reported: string | null = null;
  const report = (): void => {
    const me = useRemoteStore.getState().me;
    if (me?.caller.role !== 'supplier-support' || !me.remote) return;
    const page = routeHash(useNavigationStore.getState().route);
    if (page === reported) return;
    reported = page;
    void transport.call('remote.reportPage', { page });
  };
  const offRoute = useNavigationStore.subscribe(report);
  const offMe = useRemoteStore.subscribe((s, prev) => {
    if (s.me !== prev.me) {
      reported = null;
      report();
    }
  });
  return () => {
    offUpdate();
    offStatus();
    offRoute();
    offMe();
  };
}
