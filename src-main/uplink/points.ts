/**
 * "What leaves this plant", from the profiles alone: every machine's points with their class and
 * what goes out for each — nothing (`local`, or no uplink configured), encrypted (`sealed`) or
 * readable on the uplink path (`plain`). Plant IT audits the console's promises against this.
 */
import type { Health, UplinkLeaves, UplinkPoints, UplinkStatus } from '../../src-preload/contract';
import type { PlantConfig } from '../config/schema';

/** The points table of the "What leaves this plant" page. */
export function leavesPlan(config: PlantConfig, pseudonyms?: ReadonlyMap<string, string>): UplinkPoints {
  const configured = config.uplink !== undefined;
  return {
    configured,
    plainTcp: config.uplink?.insecurePlainTcp ?? false,
    machines: config.devices.map((d) => ({
      id: d.id,
      name: d.name,
      model: d.profileDef.model,
      pseudonym: pseudonyms?.get(d.id) ?? null,
      points: d.profileDef.points.map((p) => {
        const leaves: UplinkLeaves =
          !configured || p.sensitivity === 'local' ? 'nothing' : p.sensitivity === 'sealed' ? 'encrypted' : 'readable';
        return { id: p.id, name: p.name, unit: p.unit, sensitivity: p.sensitivity, leaves };
      }),
    })),
  };
}

/** The uplink as the API reads it (UplinkService implements it). */
export interface UplinkApi {
  status(): UplinkStatus;
  /** The uplink's part of system.health and /healthz. */
  health(): NonNullable<Health['uplink']>;
  pseudonyms(): Map<string, string>;
  onUpdate(handler: (s: UplinkStatus) => void): () => void;
}

/** The status of a plant without an uplink: nothing leaves it. */
export function disabledUplinkStatus(now: number): UplinkStatus {
  return {
    configured: false,
    state: 'disabled',
    since: now,
    broker: null,
    protocolVersion: null,
    tls: { enabled: false, servername: null, clientCertificate: false, serverFingerprint: null },
    plainTcp: false,
    connectedSince: null,
    downSince: null,
    lastError: null,
    plant: null,
    outbox: { depth: 0, bytes: 0, budgetBytes: 0, oldestCreatedAt: null, full: false, fullSince: null, fullCause: null },
    lastSeq: 0,
    lastAckSeq: null,
    inflight: 0,
    published: 0,
    acknowledged: 0,
    drops: { droppedPlain: 0, droppedBytes: 0, notRecordedSealed: 0, notRecordedPlain: 0, lostSeqs: 0, gapNotices: 0 },
    downlink: { accepted: 0, refused: 0, lastRefusal: null },
    delivery: {
      acknowledgement: 'cloud',
      state: 'ok',
      since: null,
      detail: null,
      retryAt: null,
      outstanding: 0,
      window: 0,
      cloudHigh: null,
      cloudAhead: null,
      lastCloudAckAt: null,
      undelivered: 0,
      refused: 0,
    },
    downBannerAfterS: 0,
    ts: now,
  };
}
