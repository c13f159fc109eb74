/**
 * Modules, firmware releases, refusals, events and rollouts in the encrypted plant store
 * (migration 6). Every change is one statement or one transaction, committed before the caller
 * goes on, so a restart finds each module, release and rollout as it was last shown. Release
 * images are stored in 1 MiB chunks: a resumed download reads only the chunks it needs, and a
 * 256 MiB image never has to sit in memory whole.
 *
 * Rows read back pass the same schemas (types.ts, the contract): a damaged row is skipped with
 * a log line, never shown half-read.
 */
import type { z } from 'zod';
import { FirmwareReleaseSchema, RefusedFirmwareSchema, type FirmwareRelease, type RefusedFirmware } from '../../src-preload/contract';
import type { Logger } from '../core/log';
import { blobOf, type StoreDb } from '../store/schema';
import {
  ModuleRecordSchema,
  RolloutRecordSchema,
  StoredEventSchema,
  type ModuleRecord,
  type RolloutRecord,
  type StoredEvent,
} from './types';

/** Image bytes per stored chunk. */
export const CHUNK_BYTES = 1024 * 1024;
/** Refused bundles kept (the newest): a flood of bad bundles cannot fill the disk. */
export const REFUSED_KEEP = 500;
/** Events kept per module (the newest). */
export const EVENTS_KEEP = 500;

/** The pinned root as stored. */
export interface StoredRoot {
  root: Buffer;
  /** The signatures of the rotation that pinned it ([] for the root provisioned at first start). */
  signatures: string[];
  version: number;
  pinnedAt: number;
}

/** A release with what the module channel serves of it. */
export interface StoredRelease {
  info: FirmwareRelease;
  manifest: Buffer;
  signatures: string[];
}

function parsed<S extends z.ZodType>(schema: S, json: string, what: string, log: Logger): z.infer<S> | null {
  try {
    const r = schema.safeParse(JSON.parse(json));
    if (r.success) return r.data;
    log.log('warn', `Skipped a damaged ${what} row in the store`, { issue: r.error.issues[0]?.message ?? 'invalid' });
  } catch {
    log.log('warn', `Skipped a damaged ${what} row in the store (not JSON)`);
  }
  return null;
}

/** The module manager's tables. */
export class ModuleStore {
  constructor(
    private readonly db: StoreDb,
    private readonly log: Logger,
  ) {}

  // --- root of trust ---

  /** The pinned root, or null before the first start pinned one. */
  root(): StoredRoot | null {
    const row = this.db.prepare('SELECT root, signatures, version, pinned_at FROM firmware_root WHERE id = 1').raw().get() as
      [unknown, string, number, number] | undefined;
    if (!row) return null;
    return { root: Buffer.from(blobOf(row[0])), signatures: JSON.parse(row[1]) as string[], version: row[2], pinnedAt: row[3] };
  }

  /** Pins a root (first start, or a verified rotation). */
  pinRoot(r: StoredRoot): void {
    this.db
      .prepare(
        'INSERT INTO firmware_root (id, root, signatures, version, pinned_at) VALUES (1, ?, ?, ?, ?) ' +
          'ON CONFLICT (id) DO UPDATE SET root = excluded.root, signatures = excluded.signatures, version = excluded.version, pinned_at = excluded.pinned_at',
      )
      .run([r.root, JSON.stringify(r.signatures), r.version, r.pinnedAt]);
  }

  // --- releases ---

  /** Stores a verified release and its image, in one transaction. */
  addRelease(r: StoredRelease, image: Uint8Array): void {
    const insert = this.db.prepare('INSERT INTO firmware_releases (id, manifest, signatures, info, imported_at) VALUES (?, ?, ?, ?, ?)');
    const chunk = this.db.prepare('INSERT INTO firmware_chunks (release, n, bytes) VALUES (?, ?, ?)');
    this.db
      .transaction(() => {
        insert.run([r.info.id, Buffer.from(r.manifest), JSON.stringify(r.signatures), JSON.stringify(r.info), r.info.importedAt]);
        for (let at = 0, n = 0; at < image.byteLength; at += CHUNK_BYTES, n++) {
          chunk.run([r.info.id, n, Buffer.from(image.buffer, image.byteOffset + at, Math.min(CHUNK_BYTES, image.byteLength - at))]);
        }
      })
      .immediate();
  }

  /** Changes whenever a release is added (by this process or another one on the same store). */
  releasesVersion(): string {
    const row = this.db
      .prepare('SELECT count(*), coalesce(max(imported_at), 0), coalesce(max(rowid), 0) FROM firmware_releases')
      .raw()
      .get() as [number, number, number];
    return row.join(':');
  }

  /** Every stored release, newest import first. */
  releases(): StoredRelease[] {
    const rows = this.db.prepare('SELECT manifest, signatures, info FROM firmware_releases ORDER BY imported_at DESC, id').raw().all() as [
      unknown,
      string,
      string,
    ][];
    const out: StoredRelease[] = [];
    for (const [manifest, signatures, info] of rows) {
      const i = parsed(FirmwareReleaseSchema, info, 'firmware release', this.log);
      if (i) out.push({ info: i, manifest: Buffer.from(blobOf(manifest)), signatures: JSON.parse(signatures) as string[] });
    }
    return out;
  }

  /** Image bytes [start, end) of a release, read chunk by chunk. */
  *imageRange(releaseId: string, start: number, end: number): Generator<Buffer> {
    const read = this.db.prepare('SELECT bytes FROM firmware_chunks WHERE release = ? AND n = ?').raw();
    for (let n = Math.floor(start / CHUNK_BYTES); n * CHUNK_BYTES < end; n++) {
      const row = read.get([releaseId, n]) as [unknown] | undefined;
      if (!row) return;
      const bytes = blobOf(row[0]);
      const from = Math.max(0, start - n * CHUNK_BYTES);
      const to = Math.min(bytes.length, end - n * CHUNK_BYTES);
      if (to > from) yield Buffer.from(bytes.subarray(from, to));
    }
  }

  /** Records a refused bundle and forgets the oldest beyond REFUSED_KEEP. */
  addRefused(r: RefusedFirmware): void {
    this.db
      .transaction(() => {
        this.db.prepare('INSERT INTO firmware_refused (at, entry) VALUES (?, ?)').run([r.at, JSON.stringify(r)]);
        this.db.prepare('DELETE FROM firmware_refused WHERE id <= (SELECT max(id) FROM firmware_refused) - ?').run([REFUSED_KEEP]);
      })
      .immediate();
  }

  /** Refused bundles, newest first. */
  refused(limit = 100): RefusedFirmware[] {
    const rows = this.db.prepare('SELECT entry FROM firmware_refused ORDER BY id DESC LIMIT ?').raw().all([limit]) as [string][];
    return rows
      .map(([e]) => parsed(RefusedFirmwareSchema, e, 'refused firmware', this.log))
      .filter((x): x is RefusedFirmware => x !== null);
  }

  // --- modules ---

  modules(): ModuleRecord[] {
    const rows = this.db.prepare('SELECT record FROM modules ORDER BY id').raw().all() as [string][];
    return rows.map(([r]) => parsed(ModuleRecordSchema, r, 'module', this.log)).filter((x): x is ModuleRecord => x !== null);
  }

  saveModule(m: ModuleRecord, now: number): void {
    this.db
      .prepare(
        'INSERT INTO modules (id, record, updated_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at',
      )
      .run([m.id, JSON.stringify(m), now]);
  }

  // --- events ---

  /** Stores a new event, forgetting the module's oldest beyond EVENTS_KEEP. */
  addEvent(e: StoredEvent): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO module_events (module, at, entry) VALUES (?, ?, ?)').run([e.moduleId, e.at, JSON.stringify(e)]);
      this.db
        .prepare('DELETE FROM module_events WHERE module = ? AND id <= (SELECT max(id) FROM module_events WHERE module = ?) - ?')
        .run([e.moduleId, e.moduleId, EVENTS_KEEP]);
    })();
  }

  /** Replaces a stored event (it ended, or it repeated). */
  updateEvent(e: StoredEvent): void {
    this.db
      .prepare("UPDATE module_events SET entry = ? WHERE module = ? AND json_extract(entry, '$.id') = ?")
      .run([JSON.stringify(e), e.moduleId, e.id]);
  }

  /** A module's events, newest first. */
  events(moduleId: string, limit = 50): StoredEvent[] {
    const rows = this.db
      .prepare('SELECT entry FROM module_events WHERE module = ? ORDER BY id DESC LIMIT ?')
      .raw()
      .all([moduleId, limit]) as [string][];
    return rows.map(([e]) => parsed(StoredEventSchema, e, 'module event', this.log)).filter((x): x is StoredEvent => x !== null);
  }

  /** Every event still active (what a restart continues). */
  activeEvents(): StoredEvent[] {
    const rows = this.db.prepare("SELECT entry FROM module_events WHERE json_extract(entry, '$.active') = 1 ORDER BY id").raw().all() as [
      string,
    ][];
    return rows.map(([e]) => parsed(StoredEventSchema, e, 'module event', this.log)).filter((x): x is StoredEvent => x !== null);
  }

  // --- rollouts ---

  rollouts(): RolloutRecord[] {
    const rows = this.db.prepare('SELECT rollout FROM firmware_rollouts ORDER BY approved_at DESC, id').raw().all() as [string][];
    return rows.map(([r]) => parsed(RolloutRecordSchema, r, 'rollout', this.log)).filter((x): x is RolloutRecord => x !== null);
  }

  saveRollout(r: RolloutRecord): void {
    this.db
      .prepare(
        'INSERT INTO firmware_rollouts (id, state, approved_at, rollout) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT (id) DO UPDATE SET state = excluded.state, rollout = excluded.rollout',
      )
      .run([r.rollout.id, r.rollout.state, r.rollout.approvedAt, JSON.stringify(r)]);
  }
}
