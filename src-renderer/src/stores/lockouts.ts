/**
 * Sign-in lockouts as an admin sees them on the audit page (auth.lockouts), and lifting one
 * (auth.unlock): the list, why it could not be read, and what the last lift did, in words.
 */
import { create } from 'zustand';
import type { LockoutView, Transport } from '../../../src-preload/contract';
import { lockoutWhere, lockoutWho } from '../lib/lockouts';

export interface LockoutsState {
  list: LockoutView[] | null;
  error: string | null;
  /** What the last lift did. */
  notice: string | null;
  busy: boolean;
  actions: {
    load(t: Transport): Promise<void>;
    lift(t: Transport, l: LockoutView): Promise<void>;
    clearNotice(): void;
  };
}

export const useLockoutsStore = create<LockoutsState>()((set, get) => ({
  list: null,
  error: null,
  notice: null,
  busy: false,
  actions: {
    async load(t) {
      const r = await t.call('auth.lockouts', {}).catch(() => null);
      if (r?.ok) set({ list: r.value.lockouts, error: null });
      else set({ error: r ? r.error.message : 'The console does not answer: the lockouts cannot be shown' });
    },
    async lift(t, l) {
      set({ busy: true, notice: null });
      const r = await t.call('auth.unlock', { id: l.id }).catch(() => null);
      const notice = !r?.ok
        ? `Not lifted: ${r ? r.error.message : 'the console does not answer'}`
        : r.value.lifted === null
          ? 'That lockout had already ended.'
          : `Lifted: ${lockoutWho(l)} ${lockoutWhere(l)} may try again now.`;
      set({ busy: false, notice });
      await get().actions.load(t);
    },
    clearNotice() {
      set({ notice: null });
    },
  },
}));

export const selectLockouts = (s: LockoutsState) => s;
