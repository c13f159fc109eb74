/**
 * The write log: every bounded write and revert, refusals included (the audit trail needs to
 * show what was asked and why it was not done). An interface, so a persistent store can replace
 * the in-memory one without touching the write service.
 */
import type { WriteResult } from '../../src-preload/contract';

/** What `list` selects: one machine or all, newest first, at most `limit` entries. */
export interface WriteLogQuery {
  machineId?: string | undefined;
  limit: number;
}

/** Where write results are kept. */
export interface WriteLogStore {
  append(entry: WriteResult): void;
  /** The entry with this id, undefined when there is none (or it was dropped by the cap). */
  get(id: string): WriteResult | undefined;
  /** Entries newest first. */
  list(query: WriteLogQuery): WriteResult[];
}

/** Entries kept in memory unless told otherwise: weeks of writes at any realistic rate. */
export const DEFAULT_MEMORY_WRITE_LOG_CAP = 10_000;

/** An in-memory write log that forgets its oldest entries beyond `cap`, so a long run stays bounded. */
export function createMemoryWriteLog(opts: { cap?: number } = {}): WriteLogStore {
  const cap = Math.max(1, Math.trunc(opts.cap ?? DEFAULT_MEMORY_WRITE_LOG_CAP));
  // Insertion order is completion order; the map keeps it and finds by id.
  const entries = new Map<string, WriteResult>();
  return {
    append(entry) {
      entries.delete(entry.id);
      entries.set(entry.id, structuredClone(entry));
      while (entries.size > cap) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
    },
    get(id) {
      const e = entries.get(id);
      return e ? structuredClone(e) : undefined;
    },
    list({ machineId, limit }) {
      const out: WriteResult[] = [];
      const all = [...entries.values()];
      for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
        const e = all[i]!;
        if (machineId === undefined || e.machineId === machineId) out.push(structuredClone(e));
      }
      return out;
    },
  };
}
