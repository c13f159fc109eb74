/**
 * Supplier recommendations wired to a running plant: the store tables, the intake behind the
 * uplink's downlink (`recommendation` messages), the inbox the reco.* commands reach, and the
 * reporter that seals decisions, results, outcomes and refusals into the uplink outbox.
 * Built only when the plant has an uplink: without one no recommendation can arrive.
 */
import type { AuditSink } from '../audit/record';
import type { Logger } from '../core/log';
import { openRecommendation } from '../protocol/recommendation';
import { sealRecoReport } from '../protocol/recommendation-report';
import type { BoxKeyPair } from '../protocol/keys';
import { blobOf, type StoreDb } from '../store/schema';
import type { DownlinkHandler, UnreadableHandler } from '../uplink/downlink';
import { RecoService } from './inbox';
import { RecoIntake } from './intake';
import { uplinkReporter, type ReportQueue } from './reports';
import { RecoStore } from './store';
import type { RecoConfirmGate, RecoHost } from './types';

export { RecoService } from './inbox';
export { RecoIntake } from './intake';
export { RecoStore } from './store';
export type { RecoConfirmGate, RecoHost } from './types';

/** What the inbox needs of the uplink (UplinkService provides it). */
export interface RecoUplink extends ReportQueue {
  readonly plant: { pseudonym: string };
  pseudonyms(): Map<string, string>;
  readonly downlink: {
    setHandler(type: 'recommendation', handler: DownlinkHandler | null): void;
    onUnreadable(handler: UnreadableHandler | null): void;
  };
}

export interface RecoSystemOptions {
  core: RecoHost;
  db: StoreDb;
  /** The plant's current X25519 key pair (recommendations are sealed to it). */
  identity: { encryption: BoxKeyPair };
  uplink: RecoUplink;
  /** config.recommendations.autoRevert. */
  autoRevertAllowed: boolean;
  audit?: AuditSink | undefined;
  log: Logger;
  confirm?: RecoConfirmGate | undefined;
  settleMs?: number;
  recoveryWaitMs?: number;
}

export interface RecoSystem {
  /** The reco.* commands (ConsoleApi's `reco`). */
  service: RecoService;
  intake: RecoIntake;
  store: RecoStore;
  /** Recovers an apply a crash interrupted, measures what came due, starts the timer. */
  start(): Promise<void>;
  /** Stops the timer and unhooks the downlink handler. */
  stop(): void;
}

/** The plant's X25519 key pair of a key id: the current one, or a retired one still in the store. */
export function plantBoxKeys(db: StoreDb, current: BoxKeyPair): (kid: string) => { publicKey: Uint8Array; secretKey: Uint8Array } | null {
  return (kid) => {
    if (kid === current.kid) return { publicKey: current.publicKey, secretKey: current.secretKey };
    const row = db.prepare("SELECT public_key, secret_key FROM plant_keys WHERE key_id = ? AND kind = 'x25519'").raw().get([kid]) as
      [unknown, unknown] | undefined;
    return row ? { publicKey: Buffer.from(blobOf(row[0])), secretKey: Buffer.from(blobOf(row[1])) } : null;
  };
}

/** Builds the inbox and hooks its intake to the downlink. */
export function createRecoSystem(o: RecoSystemOptions): RecoSystem {
  const store = new RecoStore(o.db, o.log);
  const clock = o.core.clock;
  const plant = o.uplink.plant.pseudonym;
  const reporter = uplinkReporter({
    plant,
    queue: o.uplink,
    seal: (body, keys, seq) => sealRecoReport({ ...body, seq }, keys),
    clock,
    log: o.log,
  });
  const service = new RecoService({
    host: o.core,
    store,
    reporter,
    audit: o.audit,
    log: o.log,
    autoRevertAllowed: o.autoRevertAllowed,
    confirm: o.confirm,
    ...(o.settleMs !== undefined ? { settleMs: o.settleMs } : {}),
    ...(o.recoveryWaitMs !== undefined ? { recoveryWaitMs: o.recoveryWaitMs } : {}),
  });
  const byPseudonym = new Map([...o.uplink.pseudonyms()].map(([id, p]) => [p, id]));
  const intake = new RecoIntake({
    store,
    devices: o.core.config.devices,
    plant,
    machineOf: (p) => byPseudonym.get(p),
    plantBox: plantBoxKeys(o.db, o.identity.encryption),
    open: openRecommendation,
    reporter,
    audit: o.audit,
    clock,
    log: o.log,
    changed: () => service.notify(),
  });
  o.uplink.downlink.setHandler('recommendation', (doc, ctx) => intake.handle(doc, ctx));
  // What nobody can read may still have been a recommendation: the refused list shows it.
  o.uplink.downlink.onUnreadable((payload, detail) => intake.refuseUnreadable(payload, detail));
  return {
    service,
    intake,
    store,
    start: () => service.start(),
    stop() {
      o.uplink.downlink.setHandler('recommendation', null);
      o.uplink.downlink.onUnreadable(null);
      service.stop();
    },
  };
}
