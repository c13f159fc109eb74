/**
 * The `uplink` section of the plant configuration: where the broker is, how the console proves
 * who it talks to (TLS, on by default), how fast it may publish, and the outbox's disk budget.
 * Secrets are never in the file: the broker password comes from an environment variable named
 * here, keys from the provisioning file and the encrypted store.
 *
 * Kept apart from config/schema.ts (which imports it) so that the uplink owns its settings; it
 * must not import config/schema.ts back (the two modules would then load in a cycle).
 */
import { z } from 'zod';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Reconnect delays (modbus/backoff.ts's shape); the syslog forwarding of the audit log takes the same. */
export const ReconnectBackoffSchema = z
  .object({
    initialDelayMs: z.number().int().min(10).max(600_000).default(1000),
    maxDelayMs: z.number().int().min(10).max(3_600_000).default(60_000),
    randomisationFactor: z.number().min(0).max(1).default(0.3),
  })
  .strict();

export const UplinkConfigSchema = z
  .object({
    /** `mqtts://host:port` (TLS) or, only with `insecurePlainTcp: true`, `mqtt://host:port`. */
    broker: z.string().regex(/^mqtts?:\/\/[^/\s]+$/, 'must be mqtts://HOST:PORT (or mqtt://HOST:PORT with insecurePlainTcp)'),
    /** MQTT 5 by default; 4 (3.1.1) for brokers without MQTT 5, such as the demo's embedded aedes. */
    protocolVersion: z.union([z.literal(5), z.literal(4)]).default(5),
    tls: z
      .object({
        /** PEM file of the CA that signs the broker's certificate (relative to the config file); omitted: the system's CAs. */
        ca: z.string().min(1).optional(),
        /** Client certificate and key (PEM files), when the broker authenticates clients by certificate. */
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        /** The name the broker's certificate must carry (default: the broker URL's host). */
        servername: z.string().min(1).max(253).optional(),
      })
      .strict()
      .default({}),
    /** Plain TCP: everything, `plain` data included, travels readable. Only when set explicitly. */
    insecurePlainTcp: z.boolean().default(false),
    username: z.string().min(1).max(256).optional(),
    /** Name of the environment variable holding the broker password (never the password itself). */
    passwordEnv: z.string().regex(ENV_NAME, 'must be an environment variable name').optional(),
    /** MQTT client id (default: `plant-console-<plant pseudonym>`). */
    clientId: z.string().min(1).max(128).optional(),
    keepaliveS: z.number().int().min(5).max(3600).default(30),
    connectTimeoutMs: z.number().int().min(1000).max(120_000).default(15_000),
    backoff: ReconnectBackoffSchema.default({ initialDelayMs: 1000, maxDelayMs: 60_000, randomisationFactor: 0.3 }),
    /** One sealed and one plain batch per machine per interval. */
    batchIntervalMs: z.number().int().min(100).max(3_600_000).default(1000),
    outbox: z
      .object({
        /** Bytes of batches the outbox may hold (see docs/uplink.md, "Store-and-forward" for the policy when full). */
        budgetBytes: z
          .number()
          .int()
          .min(64 * 1024)
          .max(1024 ** 4)
          .default(256 * 1024 * 1024),
      })
      .strict()
      .default({ budgetBytes: 256 * 1024 * 1024 }),
    publish: z
      .object({
        /**
         * Who says a batch was delivered, so that it may leave the outbox: `cloud` (the default,
         * the receiver's acknowledgement on the plant's downlink, which also paces the drain) or
         * `broker` (its PUBACK: for a cloud that sends no acknowledgements).
         */
        acknowledgement: z.enum(['cloud', 'broker']).default('cloud'),
        /** The most batches published ahead of the cloud's acknowledgements (the AIMD window's ceiling). */
        cloudWindow: z.number().int().min(1).max(10_000).default(256),
        /** No acknowledgement from the cloud for this long: publish again from the oldest batch (then doubling). */
        ackTimeoutMs: z.number().int().min(500).max(600_000).default(30_000),
        /** QoS 1 publishes awaiting their PUBACK at once (mqtt.js hangs past 65 535). */
        inflightWindow: z.number().int().min(1).max(10_000).default(256),
        /** A ceiling on the drain rate after an outage, so a backlog does not flood the plant's link. */
        maxMessagesPerSecond: z.number().int().min(1).max(1_000_000).default(5000),
        maxBytesPerSecond: z
          .number()
          .int()
          .min(1024)
          .max(1024 ** 3)
          .default(16 * 1024 * 1024),
      })
      .strict()
      .default({
        acknowledgement: 'cloud',
        cloudWindow: 256,
        ackTimeoutMs: 30_000,
        inflightWindow: 256,
        maxMessagesPerSecond: 5000,
        maxBytesPerSecond: 16 * 1024 * 1024,
      }),
    /** Batches kept back this long (no subscriber, refused, or no acknowledgement from the cloud) raise a plant-level alarm. */
    deliveryAlarmAfterS: z.number().int().min(0).max(86_400).default(120),
    /** The UI raises its "uplink down" banner after this long without a broker connection. */
    downBannerAfterS: z.number().int().min(0).max(86_400).default(60),
    /** Provisioning file (plant id, cloud and supplier public keys), relative to the config file. */
    provisioning: z.string().min(1),
    /** The plant identifier, when the provisioning file has no `plant` section. */
    plantId: z.string().min(1).max(256).optional(),
  })
  .strict()
  .superRefine((u, ctx) => {
    const plain = u.broker.startsWith('mqtt://');
    if (plain && !u.insecurePlainTcp) {
      ctx.addIssue({
        code: 'custom',
        path: ['broker'],
        message: 'mqtt:// sends everything readable: use mqtts:// or set "insecurePlainTcp": true explicitly',
      });
    }
    if (!plain && u.insecurePlainTcp) {
      ctx.addIssue({ code: 'custom', path: ['insecurePlainTcp'], message: 'insecurePlainTcp needs an mqtt:// broker URL' });
    }
    if ((u.tls.cert === undefined) !== (u.tls.key === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'a client certificate needs both "cert" and "key"' });
    }
    if (u.username === undefined && u.passwordEnv !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['passwordEnv'], message: 'a password needs a "username"' });
    }
    if (u.backoff.initialDelayMs > u.backoff.maxDelayMs) {
      ctx.addIssue({ code: 'custom', path: ['backoff', 'initialDelayMs'], message: 'must not exceed maxDelayMs' });
    }
  });
export type UplinkConfig = z.infer<typeof UplinkConfigSchema>;

/** Host and port of a broker URL (the schema checked its form). */
export function brokerAddress(url: string): { tls: boolean; host: string; port: number } {
  const u = new URL(url);
  const tls = u.protocol === 'mqtts:';
  return { tls, host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : tls ? 8883 : 1883 };
}
