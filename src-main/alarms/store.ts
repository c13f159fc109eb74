/**
 * Where alarms live: the current alarms (every alarm not in `normal`) and the event history.
 *
 * Persistence contract (what a persistent store must do so that alarms survive a restart of
 * the console; the in-memory store below keeps the same contract for one run):
 *   1. Every change of an alarm reaches the store as one `commit(alarm, event)`: the alarm's
 *      new record and the event that led to it. A store writes both or neither (one
 *      transaction), so the current list and the history never disagree after a crash.
 *   2. `current()` returns exactly the alarms whose last committed state is not `normal`
 *      (a commit with state `normal` removes the alarm from the current list), keyed by
 *      `machineId/ruleId`. The engine starts from it: an active-unacked alarm is still
 *      waiting for a person after the restart, an acknowledged one is still acknowledged,
 *      and the condition is then re-evaluated from the first poll on.
 *   3. The store does not interpret states: the engine owns the ISA-18.2 state machine; the
 *      store only keeps what it is given, in commit order.
 *   4. History is kept at least back to the start of the current shift ("history of the
 *      shift"), and is bounded: `trim` forgets older events, and a hard cap on the number of
 *      events protects the plant PC from an alarm flood (the cap wins over the shift; what
 *      was dropped is counted in `stats()`).
 *   5. Commits are synchronous from the engine's point of view: a persistent store may
 *      buffer writes, but `current()` and `history()` must reflect every commit already made.
 */
import type { Alarm, AlarmEvent } from '../../src-preload/contract';

/** A query of the event history. */
export interface AlarmHistoryQuery {
  machineId?: string;
  /** Only events at or after this time (ms since epoch). */
  fromMs?: number;
  /** At most this many events (the newest). */
  limit?: number;
}

/** The alarm store the engine writes through (see the persistence contract above). */
export interface AlarmStore {
  /** The saved current alarms (state not `normal`), in no particular order. */
  current(): Alarm[];
  /** Records an alarm's new state and the event that led to it, together. */
  commit(alarm: Alarm, event: AlarmEvent): void;
  /** Events matching the query, newest first. */
  history(query?: AlarmHistoryQuery): AlarmEvent[];
  /** Forgets events older than `olderThanMs` (current alarms are never trimmed). */
  trim(olderThanMs: number): void;
  /** Sizes, for health screens and memory checks. */
  stats(): { current: number; events: number; dropped: number };
}

/** Options of the in-memory store. */
export interface MemoryAlarmStoreOptions {
  /** Hard cap on kept events (default 20 000). */
  maxEvents?: number;
  /** Alarms to start from, e.g. read back from a file (a restart in tests). */
  initial?: readonly Alarm[];
  /** Events to start from, in time order. */
  initialEvents?: readonly AlarmEvent[];
}

const DEFAULT_MAX_EVENTS = 20_000;

/** The in-memory alarm store: a map of current alarms and a bounded, time-ordered event list. */
export function createMemoryAlarmStore(opts: MemoryAlarmStoreOptions = {}): AlarmStore {
  const maxEvents = Math.max(1, Math.floor(opts.maxEvents ?? DEFAULT_MAX_EVENTS));
  const current = new Map<string, Alarm>();
  for (const a of opts.initial ?? []) if (a.state !== 'normal') current.set(a.id, { ...a });
  // Events live in `events` from `head` on; the dead prefix is compacted away in bulk.
  let events: AlarmEvent[] = [...(opts.initialEvents ?? [])];
  let head = 0;
  let dropped = 0;

  const compact = (): void => {
    if (head > 1024 && head * 2 > events.length) {
      events = events.slice(head);
      head = 0;
    }
  };

  const enforceCap = (): void => {
    const over = events.length - head - maxEvents;
    if (over > 0) {
      head += over;
      dropped += over;
    }
    compact();
  };
  enforceCap();

  return {
    current: () => [...current.values()].map((a) => ({ ...a })),
    commit(alarm, event) {
      if (alarm.state === 'normal') current.delete(alarm.id);
      else current.set(alarm.id, { ...alarm });
      events.push({ ...event });
      enforceCap();
    },
    history(query = {}) {
      const out: AlarmEvent[] = [];
      const limit = query.limit ?? Infinity;
      for (let i = events.length - 1; i >= head && out.length < limit; i--) {
        const e = events[i];
        if (!e) continue;
        // No early exit: events of different machines may be committed slightly out of time order.
        if (query.fromMs !== undefined && e.at < query.fromMs) continue;
        if (query.machineId !== undefined && e.machineId !== query.machineId) continue;
        out.push({ ...e });
      }
      return out;
    },
    trim(olderThanMs) {
      while (head < events.length && (events[head]?.at ?? Infinity) < olderThanMs) head++;
      compact();
    },
    stats: () => ({ current: current.size, events: events.length - head, dropped }),
  };
}
