/** The uplink: what leaves the plant, and its live status. */
import { z } from 'zod';
import { ErrorInfoSchema, SensitivitySchema } from './values';

/** What goes out for a point: nothing (local, or no uplink), encrypted (sealed) or readable (plain). */
export const UplinkLeavesSchema = z.enum(['nothing', 'encrypted', 'readable']);
export type UplinkLeaves = z.infer<typeof UplinkLeavesSchema>;

/** "What leaves this plant": every machine's points, their class and what goes out. */
export const UplinkPointsSchema = z.object({
  configured: z.boolean(),
  plainTcp: z.boolean(),
  machines: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      model: z.string(),
      /** The pseudonym topics carry instead of the machine id (null without an uplink). */
      pseudonym: z.string().nullable(),
      points: z.array(
        z.object({ id: z.string(), name: z.string(), unit: z.string(), sensitivity: SensitivitySchema, leaves: UplinkLeavesSchema }),
      ),
    }),
  ),
});
export type UplinkPoints = z.infer<typeof UplinkPointsSchema>;

/** Whether what is published reaches the cloud (src-main/uplink/forwarder.ts). */
export const UplinkDeliverySchema = z.object({
  /** Who says a batch was delivered: the cloud (its acknowledgements) or the broker (PUBACK). */
  acknowledgement: z.enum(['cloud', 'broker']),
  /**
   * `ok`; `held`: the broker took batches for nobody (no subscriber) or refused them, they stay
   * in the outbox and are tried again with backoff; `waiting`: the cloud has not acknowledged
   * what was published for a while.
   */
  state: z.enum(['ok', 'held', 'waiting']),
  since: z.number().nullable(),
  /** What is wrong, in words, while the state is not `ok`. */
  detail: z.string().nullable(),
  /** When publishing is tried again (held). */
  retryAt: z.number().nullable(),
  /** Batches published and not yet acknowledged by the cloud, and the window that bounds them. */
  outstanding: z.number().int(),
  window: z.number().int(),
  /** The highest sequence the cloud says it holds. */
  cloudHigh: z.number().nullable(),
  /** The cloud holds numbers beyond the plant's own (its data directory went back in time): the plant would reuse them. */
  cloudAhead: z.object({ high: z.number(), lastSeq: z.number(), since: z.number() }).nullable(),
  lastCloudAckAt: z.number().nullable(),
  /** Publishes the broker delivered to nobody (0x10) or refused (≥ 0x80), since start. */
  undelivered: z.number(),
  refused: z.number(),
});

/** The live uplink state (src-main/uplink/service.ts). */
export const UplinkStatusSchema = z.object({
  configured: z.boolean(),
  state: z.enum(['disabled', 'connecting', 'online', 'offline', 'closed']),
  /** When `state` last changed. */
  since: z.number(),
  broker: z.string().nullable(),
  protocolVersion: z.number().int().nullable(),
  tls: z.object({
    enabled: z.boolean(),
    servername: z.string().nullable(),
    clientCertificate: z.boolean(),
    serverFingerprint: z.string().nullable(),
  }),
  /** Configured as plain TCP: everything travels readable (a permanent warning). */
  plainTcp: z.boolean(),
  connectedSince: z.number().nullable(),
  /** Since when there has been no broker connection (null while online). */
  downSince: z.number().nullable(),
  lastError: ErrorInfoSchema.nullable(),
  plant: z.object({ pseudonym: z.string(), signingKeyId: z.string(), cloudKeyId: z.string() }).nullable(),
  outbox: z.object({
    depth: z.number().int(),
    bytes: z.number(),
    budgetBytes: z.number(),
    oldestCreatedAt: z.number().nullable(),
    /** Recording stopped: the disk budget is used up, or the disk is full (sealed data is being lost). */
    full: z.boolean(),
    fullSince: z.number().nullable(),
    /** Why recording stopped: the outbox's own budget, or the disk itself. */
    fullCause: z.enum(['budget', 'disk']).nullable(),
  }),
  lastSeq: z.number(),
  lastAckSeq: z.number().nullable(),
  inflight: z.number().int(),
  published: z.number(),
  acknowledged: z.number(),
  drops: z.object({
    droppedPlain: z.number(),
    droppedBytes: z.number(),
    notRecordedSealed: z.number(),
    notRecordedPlain: z.number(),
    /** Sequence numbers lost to a crash or a rollback of the store, declared lost to the cloud. */
    lostSeqs: z.number(),
    gapNotices: z.number(),
  }),
  downlink: z.object({ accepted: z.number(), refused: z.number(), lastRefusal: z.string().nullable() }),
  delivery: UplinkDeliverySchema,
  /** The UI's "uplink down" banner appears after this many seconds offline. */
  downBannerAfterS: z.number(),
  ts: z.number(),
});
export type UplinkStatus = z.infer<typeof UplinkStatusSchema>;
