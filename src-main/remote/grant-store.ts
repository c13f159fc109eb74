/**
 * Remote support grants and change requests in the encrypted store (`remote_grants`,
 * `remote_requests`, migration 4), so that a restart neither forgets the site's consent nor
 * brings back a join code that was used or has run out (support.ts has the restart rule).
 *
 * A row holds the grant or request as the API shows it (JSON, parsed back with the contract's
 * schemas) and, for grants, the join code's keyed hash and the count of wrong tries. The key of
 * that hash lives in the store's `meta` table: without it, an unused code could not be checked
 * after a restart. The code itself is never stored.
 */
import { ChangeRequestSchema, RemoteGrantSchema, type ChangeRequest, type RemoteGrant } from '../../src-preload/contract';
import { silentLogger, type Logger } from '../core/log';
import { randomBytes } from '../protocol/sodium';
import { blobOf, type StoreDb } from '../store/schema';

/** A grant with what only the service sees. */
export interface StoredGrant {
  grant: RemoteGrant;
  codeHash: Buffer | null;
  failures: number;
}

/** Where remote support keeps its grants and requests (SqlRemoteStore, or nothing: memory only). */
export interface RemotePersistence {
  loadGrants(): StoredGrant[];
  saveGrant(g: StoredGrant): void;
  removeGrants(ids: readonly string[]): void;
  loadRequests(): ChangeRequest[];
  saveRequest(r: ChangeRequest): void;
  removeRequests(ids: readonly string[]): void;
  /** The key join codes are hashed with; the same across restarts. */
  joinCodeKey(): Buffer;
}

const KEY_META = 'remote_join_code_key';

interface GrantRow {
  id: string;
  grant_json: string;
  code_hash: unknown;
  failures: number;
}

function statements(db: StoreDb) {
  return {
    grants: db.prepare('SELECT id, grant_json, code_hash, failures FROM remote_grants ORDER BY created_at'),
    saveGrant: db.prepare(
      'INSERT INTO remote_grants (id, state, created_at, grant_json, code_hash, failures) VALUES (?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (id) DO UPDATE SET state = excluded.state, grant_json = excluded.grant_json, code_hash = excluded.code_hash, failures = excluded.failures',
    ),
    removeGrant: db.prepare('DELETE FROM remote_grants WHERE id = ?'),
    requests: db.prepare('SELECT id, request_json FROM remote_requests ORDER BY requested_at'),
    saveRequest: db.prepare(
      'INSERT INTO remote_requests (id, grant_id, state, requested_at, request_json) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (id) DO UPDATE SET state = excluded.state, request_json = excluded.request_json',
    ),
    removeRequest: db.prepare('DELETE FROM remote_requests WHERE id = ?'),
    getKey: db.prepare('SELECT value FROM meta WHERE key = ?').raw(),
    putKey: db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)'),
  };
}

/** RemotePersistence on the store database. */
export class SqlRemoteStore implements RemotePersistence {
  private readonly log: Logger;
  private readonly q: ReturnType<typeof statements>;

  constructor(
    private readonly db: StoreDb,
    opts: { log?: Logger } = {},
  ) {
    this.log = opts.log ?? silentLogger;
    this.q = statements(db);
  }

  loadGrants(): StoredGrant[] {
    const out: StoredGrant[] = [];
    for (const row of this.q.grants.all() as GrantRow[]) {
      const parsed = RemoteGrantSchema.safeParse(parseJson(row.grant_json));
      if (!parsed.success || parsed.data.id !== row.id) {
        // Unreadable: it cannot be joined or shown; the audit log still has its story.
        this.log.log('error', 'A stored remote support grant is unreadable and was left out', { grantId: row.id });
        continue;
      }
      const codeHash = row.code_hash === null ? null : Buffer.from(blobOf(row.code_hash));
      out.push({ grant: parsed.data, codeHash: codeHash?.length === 32 ? codeHash : null, failures: row.failures });
    }
    return out;
  }

  saveGrant(g: StoredGrant): void {
    this.q.saveGrant.run([g.grant.id, g.grant.state, g.grant.createdAt, JSON.stringify(g.grant), g.codeHash, g.failures]);
  }

  removeGrants(ids: readonly string[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.q.removeGrant.run([id]);
    })();
  }

  loadRequests(): ChangeRequest[] {
    const out: ChangeRequest[] = [];
    for (const row of this.q.requests.all() as { id: string; request_json: string }[]) {
      const parsed = ChangeRequestSchema.safeParse(parseJson(row.request_json));
      if (!parsed.success || parsed.data.id !== row.id) {
        this.log.log('error', 'A stored remote change request is unreadable and was left out', { requestId: row.id });
        continue;
      }
      out.push(parsed.data);
    }
    return out;
  }

  saveRequest(r: ChangeRequest): void {
    this.q.saveRequest.run([r.id, r.grantId, r.state, r.requestedAt, JSON.stringify(r)]);
  }

  removeRequests(ids: readonly string[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.q.removeRequest.run([id]);
    })();
  }

  joinCodeKey(): Buffer {
    const read = (): Buffer | null => {
      const hex = (this.q.getKey.get([KEY_META]) as [string] | undefined)?.[0];
      return hex !== undefined && /^[0-9a-f]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : null;
    };
    const have = read();
    if (have) return have;
    // INSERT OR IGNORE, then read back: two processes opening one store agree on one key.
    this.q.putKey.run([KEY_META, randomBytes(32).toString('hex')]);
    const key = read();
    if (!key) throw new Error(`meta.${KEY_META} is not a 32-byte hex key`);
    return key;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
