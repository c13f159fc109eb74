/**
 * At every start of a configured plant: compare the configuration with the snapshot the
 * previous start left in the store (`config_snapshot`, migration 4), write what changed to the
 * audit log (audit-diff.ts says how), then keep the new snapshot. The records come first: a
 * crash in between repeats them at the next start rather than losing them.
 */
import type { AuditSink } from '../audit/record';
import { silentLogger, type Logger } from '../core/log';
import { systemClock, type Clock } from '../core/types';
import type { StoreDb } from '../store/schema';
import { configAuditEntries, configSnapshot, snapshotHash, type ConfigSnapshot } from './audit-diff';
import type { PlantConfig } from './schema';

/** What the start found. */
export interface ConfigAuditResult {
  hash: string;
  /** null at the first start (or when the stored snapshot could not be read). */
  previousHash: string | null;
  /** Audit records written. */
  recorded: number;
}

function readSnapshot(db: StoreDb, log: Logger): { snapshot: ConfigSnapshot; hash: string } | null {
  const row = db.prepare('SELECT hash, snapshot FROM config_snapshot WHERE id = 1').get() as { hash: string; snapshot: string } | undefined;
  if (!row) return null;
  try {
    const parsed: unknown = JSON.parse(row.snapshot);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return { snapshot: parsed as ConfigSnapshot, hash: row.hash };
  } catch (err) {
    log.log('warn', 'The stored configuration snapshot is unreadable: this start is recorded as a first load', { error: String(err) });
    return null;
  }
}

/** Audits the configuration of this start against the previous one and stores its snapshot. */
export function auditConfigAtStart(
  db: StoreDb,
  audit: AuditSink,
  config: PlantConfig,
  opts: { clock?: Clock; log?: Logger } = {},
): ConfigAuditResult {
  const log = opts.log ?? silentLogger;
  const clock = opts.clock ?? systemClock;
  const previous = readSnapshot(db, log);
  const snapshot = configSnapshot(config);
  const hash = snapshotHash(snapshot);
  const entries = configAuditEntries(previous, snapshot, config.source);
  for (const e of entries) audit.record(e);
  if (previous === null || previous.hash !== hash) {
    db.prepare(
      'INSERT INTO config_snapshot (id, hash, snapshot, taken_at) VALUES (1, ?, ?, ?) ' +
        'ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, snapshot = excluded.snapshot, taken_at = excluded.taken_at',
    ).run([hash, JSON.stringify(snapshot), clock.now()]);
  }
  if (previous !== null && previous.hash !== hash) {
    const n = entries.filter((e) => e.kind === 'classification_changed').length;
    log.log(
      'info',
      `The configuration changed since the last start: ${entries.length - n} change record(s), ${n} classification change(s) audited`,
      {
        hash,
        previousHash: previous.hash,
      },
    );
  }
  return { hash, previousHash: previous?.hash ?? null, recorded: entries.length };
}
