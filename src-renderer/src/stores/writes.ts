/**
 * Setpoint writes of the machine page: the write log per machine (writes.log), the outcome of
 * the last write or undo, the write that Undo would revert, and whether a write is under way.
 * A write or revert carries the signed-in account's PIN when it has one (the core asks for it:
 * PIN_REQUIRED, BAD_PIN); all of it is forgotten when the session ends (`reset`).
 */
import { create } from 'zustand';
import type { Result, Transport, WriteResult } from '../../../src-preload/contract';

/** What the panel shows after a write: the core's WriteResult, or why the call did not arrive (with the API's code). */
export type WriteOutcome = { kind: 'result'; result: WriteResult } | { kind: 'error'; message: string; code?: string };

/** Refusals that mean "confirm again with the (right) PIN": the dialog stays open for them. */
export const PIN_CODES: ReadonlySet<string> = new Set(['PIN_REQUIRED', 'BAD_PIN']);

export interface MachineWrites {
  log: WriteResult[];
  logError: string | null;
  outcome: WriteOutcome | null;
  /** The last successful write, which Undo reverts; null once undone. */
  undoable: WriteResult | null;
  /** The point being written now (one write at a time per machine, as in the core). */
  busy: string | null;
}

export interface WritesState {
  byMachine: Record<string, MachineWrites>;
  actions: {
    loadLog(transport: Transport, machineId: string, limit?: number): Promise<boolean>;
    write(transport: Transport, machineId: string, pointId: string, value: number | boolean, pin?: string): Promise<WriteOutcome>;
    revert(transport: Transport, machineId: string, writeId: string, pin?: string): Promise<WriteOutcome>;
    /** Clears the outcome message (Undo stays available). */
    dismiss(machineId: string): void;
    /** Forgets every machine's outcome, Undo and log (the session ended, someone else may stand here now). */
    reset(): void;
  };
}

/** Log entries the machine page shows. */
export const LOG_LIMIT = 20;

const EMPTY: MachineWrites = { log: [], logError: null, outcome: null, undoable: null, busy: null };

export const useWritesStore = create<WritesState>()((set, get) => {
  const patch = (machineId: string, p: Partial<MachineWrites>): void => {
    const cur = get().byMachine[machineId] ?? EMPTY;
    set({ byMachine: { ...get().byMachine, [machineId]: { ...cur, ...p } } });
  };

  /** Runs one write or revert call and records its outcome. */
  const run = async (
    transport: Transport,
    machineId: string,
    pointId: string,
    call: () => Promise<Result<WriteResult>>,
    isRevert: boolean,
  ): Promise<WriteOutcome> => {
    if ((get().byMachine[machineId] ?? EMPTY).busy) return { kind: 'error', message: 'Another change to this machine is still under way' };
    patch(machineId, { busy: pointId, outcome: null });
    let outcome: WriteOutcome;
    try {
      const res = await call();
      outcome = res.ok
        ? { kind: 'result', result: res.value }
        : { kind: 'error', message: `${res.error.code}: ${res.error.message}`, code: res.error.code };
    } catch (err) {
      outcome = { kind: 'error', message: err instanceof Error ? err.message : String(err) };
    }
    const prev = get().byMachine[machineId] ?? EMPTY;
    let undoable = prev.undoable;
    if (outcome.kind === 'result') {
      const r = outcome.result;
      const changed = r.outcome === 'written' || r.outcome === 'readback-mismatch';
      // Undo offers the last change made from here; after undoing it there is nothing left to undo.
      if (isRevert && r.outcome === 'written') undoable = null;
      else if (!isRevert && changed) undoable = r;
    }
    patch(machineId, { busy: null, outcome, undoable });
    void get().actions.loadLog(transport, machineId);
    return outcome;
  };

  return {
    byMachine: {},
    actions: {
      async loadLog(transport, machineId, limit = LOG_LIMIT) {
        const res = await transport.call('writes.log', { machineId, limit });
        if (!res.ok) {
          patch(machineId, { logError: `${res.error.code}: ${res.error.message}` });
          return false;
        }
        patch(machineId, { log: res.value.entries, logError: null });
        return true;
      },
      write(transport, machineId, pointId, value, pin) {
        const req = { machineId, pointId, value, ...(pin ? { pin } : {}) };
        return run(transport, machineId, pointId, () => transport.call('points.write', req), false);
      },
      revert(transport, machineId, writeId, pin) {
        const entry = get().byMachine[machineId]?.undoable;
        const pointId = entry?.id === writeId ? entry.pointId : writeId;
        return run(transport, machineId, pointId, () => transport.call('points.revert', { writeId, ...(pin ? { pin } : {}) }), true);
      },
      dismiss(machineId) {
        patch(machineId, { outcome: null });
      },
      reset() {
        set({ byMachine: {} });
      },
    },
  };
});

const EMPTY_SELECTED: MachineWrites = EMPTY;

/** Selector of one machine's write state (a stable empty object until something happened). */
export const writesOf =
  (machineId: string) =>
  (s: WritesState): MachineWrites =>
    s.byMachine[machineId] ?? EMPTY_SELECTED;
export const selectWritesActions = (s: WritesState): WritesState['actions'] => s.actions;
