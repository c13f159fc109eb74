/**
 * The `sessions` table with an in-memory index. Sessions survive a restart (a browser keeps
 * its cookie); only token hashes are stored. Activity (`last_seen`) is written at most once a
 * minute per session, because every API call touches it and each commit is an fsync; after a
 * crash a session is therefore at most a minute "older", which only ends it sooner.
 */
import type { Role } from '../../src-preload/contract';
import type { Clock } from '../core/types';
import type { StoreDb } from '../store/schema';
import { isRole } from './roles';

/** A session as kept (the token only as its hash). */
export interface StoredSession {
  id: string;
  tokenHash: string;
  user: string;
  role: Role;
  origin: 'local' | 'remote';
  source: string;
  createdAt: number;
  lastSeen: number;
  idleMs: number | null;
  expiresAt: number;
  /** last_seen as last written. */
  savedLastSeen: number;
}

interface Row {
  id: string;
  token_hash: string;
  user: string;
  role: string;
  origin: string;
  source: string;
  created_at: number;
  last_seen: number;
  idle_ms: number | null;
  expires_at: number;
}

const SAVE_LAST_SEEN_MS = 60_000;

function statements(db: StoreDb) {
  return {
    all: db.prepare('SELECT * FROM sessions'),
    insert: db.prepare(
      'INSERT INTO sessions (id, token_hash, user, role, origin, source, created_at, last_seen, idle_ms, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    remove: db.prepare('DELETE FROM sessions WHERE id = ?'),
    removeExpired: db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),
    touch: db.prepare('UPDATE sessions SET last_seen = ? WHERE id = ?'),
  };
}

/** Sessions by token hash and by id, backed by the database. */
export class SessionTable {
  private readonly q: ReturnType<typeof statements>;
  private readonly byHash = new Map<string, StoredSession>();
  private readonly ids = new Map<string, StoredSession>();

  constructor(db: StoreDb, clock: Clock) {
    this.q = statements(db);
    this.q.removeExpired.run([clock.now()]);
    for (const r of this.q.all.all() as Row[]) {
      if (!isRole(r.role) || (r.origin !== 'local' && r.origin !== 'remote')) {
        this.q.remove.run([r.id]);
        continue;
      }
      this.index({
        id: r.id,
        tokenHash: r.token_hash,
        user: r.user,
        role: r.role,
        origin: r.origin,
        source: r.source,
        createdAt: r.created_at,
        lastSeen: r.last_seen,
        idleMs: r.idle_ms,
        expiresAt: r.expires_at,
        savedLastSeen: r.last_seen,
      });
    }
  }

  /** Stores a new session. */
  insert(s: Omit<StoredSession, 'savedLastSeen'>): StoredSession {
    this.q.insert.run([s.id, s.tokenHash, s.user, s.role, s.origin, s.source, s.createdAt, s.lastSeen, s.idleMs, s.expiresAt]);
    const stored = { ...s, savedLastSeen: s.lastSeen };
    this.index(stored);
    return stored;
  }

  byTokenHash(hash: string): StoredSession | undefined {
    return this.byHash.get(hash);
  }

  byId(id: string): StoredSession | undefined {
    return this.ids.get(id);
  }

  all(): StoredSession[] {
    return [...this.ids.values()];
  }

  /** Records activity; written through at most once a minute. */
  touch(s: StoredSession, now: number): void {
    s.lastSeen = Math.max(s.lastSeen, now);
    if (s.lastSeen - s.savedLastSeen >= SAVE_LAST_SEEN_MS) this.save(s);
  }

  /** Removes a session; false when it was already gone. */
  remove(s: StoredSession): boolean {
    if (!this.ids.delete(s.id)) return false;
    this.byHash.delete(s.tokenHash);
    this.q.remove.run([s.id]);
    return true;
  }

  /** Writes every unsaved activity time. */
  flush(): void {
    for (const s of this.ids.values()) if (s.lastSeen !== s.savedLastSeen) this.save(s);
  }

  private save(s: StoredSession): void {
    this.q.touch.run([s.lastSeen, s.id]);
    s.savedLastSeen = s.lastSeen;
  }

  private index(s: StoredSession): void {
    this.byHash.set(s.tokenHash, s);
    this.ids.set(s.id, s);
  }
}
