/**
 * The recommendations inbox as this window sees it: reco.list at every (re)connect, then every
 * reco.update; the decisions (apply, reject, defer, revert) with their result or refusal in
 * words; the values before an apply (from the write log) for the revert's confirmation; and
 * the count of recommendations waiting for a decision, for the header's badge on every screen.
 */
import { create } from 'zustand';
import type { RecoInbox, Recommendation, Result, Transport } from '../../../src-preload/contract';
import { formatHm } from '../lib/format';
import { pendingCount } from '../lib/reco';
import { usePlantStore } from './plant';

export type RecoAction = 'apply' | 'reject' | 'defer' | 'revert';

/** What the page shows after a decision: its result in words, calm (ok) or needing a look (warn). */
export interface RecoNotice {
  id: string;
  action: RecoAction;
  tone: 'ok' | 'warn';
  text: string;
  /** The core answered with the recommendation (its card shows the result too); false: refused or unreachable. */
  answered: boolean;
  /** The refusal's code (PIN_REQUIRED, BAD_PIN, LOCKED_OUT, FORBIDDEN…) and the core's own words; null when answered. */
  code: string | null;
  reason: string | null;
}

/** Refusals that mean "confirm again with the (right) PIN, or wait": the dialog stays open and says why. */
export const RECO_PIN_CODES: ReadonlySet<string> = new Set(['PIN_REQUIRED', 'BAD_PIN', 'LOCKED_OUT']);

/** What the PIN keypad says after a PIN refusal; null when `n` is not one. */
export function pinRefusalText(n: Pick<RecoNotice, 'code' | 'reason'>): string | null {
  if (n.code === null || !RECO_PIN_CODES.has(n.code)) return null;
  return n.code === 'PIN_REQUIRED' ? 'Enter your PIN to confirm' : (n.reason ?? 'PIN refused');
}

export interface RecoState {
  inbox: RecoInbox | null;
  /** Why reco.list was refused or not answered, in words; null once loaded. */
  loadError: { code: string; text: string } | null;
  /** The decision under way (one at a time). */
  busy: { id: string; action: RecoAction } | null;
  /** The last decision's result, per recommendation. */
  notices: Record<string, RecoNotice>;
  actions: {
    load(t: Transport): Promise<boolean>;
    applyInbox(inbox: RecoInbox): void;
    apply(t: Transport, id: string, pin?: string): Promise<RecoNotice>;
    reject(t: Transport, id: string, reason: string): Promise<RecoNotice>;
    defer(t: Transport, id: string, untilMs?: number, reason?: string): Promise<RecoNotice>;
    revert(t: Transport, id: string, pin?: string): Promise<RecoNotice>;
    /** The values the points had before the apply, by point id (null: not found in the write log). */
    valuesBefore(t: Transport, r: Recommendation): Promise<Record<string, number | null>>;
    dismiss(id: string): void;
  };
}

/** A light shape check of a reco.update payload (the transport already parsed JSON). */
export function looksLikeInbox(x: unknown): x is RecoInbox {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Partial<RecoInbox>;
  return Array.isArray(s.items) && Array.isArray(s.refused) && typeof s.autoRevertAllowed === 'boolean';
}

const VERB: Record<RecoAction, string> = { apply: 'apply', reject: 'reject', defer: 'defer', revert: 'put the old values back' };

/** An API refusal of a decision or of the inbox, in words a person can act on. */
export function recoErrorText(action: RecoAction | 'load', code: string, message: string): string {
  const what = action === 'load' ? 'The recommendations cannot be shown' : `Could not ${VERB[action]}`;
  switch (code) {
    case 'FORBIDDEN':
      return `${what}: ${message}. Maintenance and administrators decide; ${action === 'load' ? 'operators may read them' : 'sign in as one of them'}.`;
    case 'NOT_FOUND':
      return `${what}: this recommendation is no longer in the inbox (${message}).`;
    case 'UNAVAILABLE':
      return `${what} now: ${message}.`;
    case 'BAD_REQUEST':
      return `${what}: ${message}.`;
    default:
      return `${what}: ${message} (${code}).`;
  }
}

/** The result of a decision the core accepted, in words. */
export function decidedText(action: RecoAction, r: Recommendation, tz: string): Pick<RecoNotice, 'tone' | 'text'> {
  switch (action) {
    case 'apply':
      if (r.apply && !r.apply.ok) return { tone: 'warn', text: `Not applied: ${r.apply.summary}` };
      return { tone: 'ok', text: `Applied: ${r.apply?.summary ?? 'the changes were written'}` };
    case 'revert':
      if (r.status !== 'reverted') return { tone: 'warn', text: `Not put back: ${r.apply?.summary ?? 'see the steps below'}` };
      return { tone: 'ok', text: 'The old values are back (read back from the device)' };
    case 'reject':
      return { tone: 'ok', text: `Rejected${r.decision?.reason ? `: ${r.decision.reason}` : ''}` };
    case 'defer': {
      const until = r.decision?.deferredUntil ?? null;
      return { tone: 'ok', text: until === null ? 'Deferred' : `Deferred until ${formatHm(until, tz)}` };
    }
  }
}

const unreachable = (err: unknown): Result<never> => ({
  ok: false,
  error: { code: 'UNAVAILABLE', message: err instanceof Error ? err.message : String(err) },
});

export const useRecoStore = create<RecoState>()((set, get) => {
  /** Runs one decision: one at a time, the returned recommendation merged into the inbox, the result in words. */
  const decide = async (id: string, action: RecoAction, call: () => Promise<Result<Recommendation>>): Promise<RecoNotice> => {
    if (get().busy) {
      return {
        id,
        action,
        tone: 'warn',
        text: 'Another decision is still under way: wait for its result.',
        answered: false,
        code: 'BUSY',
        reason: null,
      };
    }
    set({ busy: { id, action } });
    const res = await call().catch(unreachable);
    let notice: RecoNotice;
    if (res.ok) {
      const r = res.value;
      const inbox = get().inbox;
      if (inbox) set({ inbox: { ...inbox, items: inbox.items.map((x) => (x.id === r.id ? r : x)) } });
      notice = {
        id,
        action,
        answered: true,
        code: null,
        reason: null,
        ...decidedText(action, r, usePlantStore.getState().info?.timezone ?? 'UTC'),
      };
    } else {
      notice = {
        id,
        action,
        answered: false,
        code: res.error.code,
        reason: res.error.message,
        tone: 'warn',
        text: recoErrorText(action, res.error.code, res.error.message),
      };
    }
    set({ busy: null, notices: { ...get().notices, [id]: notice } });
    return notice;
  };

  return {
    inbox: null,
    loadError: null,
    busy: null,
    notices: {},
    actions: {
      async load(t) {
        const res = await t.call('reco.list', {}).catch(unreachable);
        if (!res.ok) {
          set({ loadError: { code: res.error.code, text: recoErrorText('load', res.error.code, res.error.message) } });
          return false;
        }
        set({ inbox: res.value, loadError: null });
        return true;
      },
      applyInbox(inbox) {
        set({ inbox, loadError: null });
      },
      apply: (t, id, pin) => decide(id, 'apply', () => t.call('reco.apply', { id, ...(pin ? { pin } : {}) })),
      reject: (t, id, reason) => decide(id, 'reject', () => t.call('reco.reject', { id, reason: reason.trim() })),
      defer: (t, id, untilMs, reason) =>
        decide(id, 'defer', () =>
          t.call('reco.defer', { id, ...(untilMs !== undefined ? { untilMs } : {}), ...(reason?.trim() ? { reason: reason.trim() } : {}) }),
        ),
      revert: (t, id, pin) => decide(id, 'revert', () => t.call('reco.revert', { id, ...(pin ? { pin } : {}) })),
      async valuesBefore(t, r) {
        const out: Record<string, number | null> = Object.fromEntries(r.changes.map((c) => [c.pointId, null]));
        const ids = new Map((r.apply?.steps ?? []).filter((s) => s.action === 'write' && s.writeId).map((s) => [s.writeId!, s.pointId]));
        if (ids.size === 0) return out;
        const res = await t.call('writes.log', { machineId: r.machineId, limit: 200 }).catch(unreachable);
        if (!res.ok) return out;
        for (const e of res.value.entries) {
          const pointId = ids.get(e.id);
          if (pointId !== undefined && typeof e.before === 'number') out[pointId] = e.before;
        }
        return out;
      },
      dismiss(id) {
        const { [id]: _gone, ...rest } = get().notices;
        set({ notices: rest });
      },
    },
  };
});

export const selectRecoInbox = (s: RecoState): RecoInbox | null => s.inbox;
export const selectRecoLoadError = (s: RecoState): RecoState['loadError'] => s.loadError;
export const selectRecoBusy = (s: RecoState): RecoState['busy'] => s.busy;
export const selectRecoNotices = (s: RecoState): RecoState['notices'] => s.notices;
export const selectRecoActions = (s: RecoState): RecoState['actions'] => s.actions;
/** Recommendations waiting for a decision now (the header's badge). */
export const selectPendingCount = (s: RecoState): number => pendingCount(s.inbox);

/** Feeds the store from `transport`: reco.list at every connect, then reco.update; returns the stop. */
export function startRecoFeed(transport: Transport): () => void {
  const { actions } = useRecoStore.getState();
  const offUpdate = transport.subscribe('reco.update', (payload) => {
    if (looksLikeInbox(payload)) actions.applyInbox(payload);
  });
  const offStatus = transport.onStatus((status) => {
    if (status === 'connected') void actions.load(transport);
  });
  return () => {
    offUpdate();
    offStatus();
  };
}
