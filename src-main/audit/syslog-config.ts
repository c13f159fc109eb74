/**
 * The `audit` section of the plant configuration: forwarding of every audit record to the
 * plant's syslog collector (RFC 5424 over TLS, RFC 5425), which is how plant IT keeps security
 * logs. TLS with the collector's certificate verified is the only way: there is no clear-text
 * syslog option (a collector that only takes plain TCP is fronted by a TLS proxy such as stunnel).
 *
 * Kept apart from config/schema.ts (which imports it); it must not import that file back.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { ReconnectBackoffSchema } from '../uplink/config';
import { DEFAULT_ENTERPRISE_ID, DEFAULT_FACILITY, DEFAULT_MAX_MESSAGE_BYTES } from './syslog-format';

/** A DNS name or an IP address (IPv6 with or without brackets). */
const isHost = (h: string): boolean =>
  isIP(h.replace(/^\[(.*)\]$/, '$1')) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(h);

export const SyslogConfigSchema = z
  .object({
    /** The collector's name or address. */
    host: z.string().refine(isHost, 'must be a host name or an IP address'),
    /** 6514 is syslog over TLS (RFC 5425). */
    port: z.number().int().min(1).max(65535).default(6514),
    tls: z
      .object({
        /** PEM file of the CA that signs the collector's certificate (relative to the config file); omitted: the system's CAs. */
        ca: z.string().min(1).optional(),
        /** The name the collector's certificate must carry (default: host). */
        servername: z.string().min(1).max(253).optional(),
        /** Client certificate and key (PEM files), when the collector authenticates its senders. */
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    /** HOSTNAME of each message (default: this PC's name). */
    hostname: z
      .string()
      .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1–255 printable ASCII characters without spaces')
      .optional(),
    /** Facility of the messages (default 13, "log audit"; 4 is auth, 10 authpriv). */
    facility: z.number().int().min(0).max(23).default(DEFAULT_FACILITY),
    /** The Private Enterprise Number of the SD-ID audit@N (default RFC 5612's example number, 32473). */
    enterpriseId: z.number().int().min(1).max(4_294_967_295).default(DEFAULT_ENTERPRISE_ID),
    /** Longest message sent; a longer record's detail is cut and marked `truncated`. */
    maxMessageBytes: z
      .number()
      .int()
      .min(2048)
      .max(1024 * 1024)
      .default(DEFAULT_MAX_MESSAGE_BYTES),
    /** The plant-level alarm rises when records have waited for the collector this long. */
    alarmAfterS: z.number().int().min(0).max(86_400).default(300),
    connectTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    backoff: ReconnectBackoffSchema.default({ initialDelayMs: 1000, maxDelayMs: 60_000, randomisationFactor: 0.3 }),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.tls.cert === undefined) !== (s.tls.key === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'a client certificate needs both "cert" and "key"' });
    }
    if (s.backoff.initialDelayMs > s.backoff.maxDelayMs) {
      ctx.addIssue({ code: 'custom', path: ['backoff', 'initialDelayMs'], message: 'must not exceed maxDelayMs' });
    }
  });
export type SyslogConfig = z.infer<typeof SyslogConfigSchema>;

export const AuditConfigSchema = z
  .object({
    /** Forward every audit record to the plant's syslog collector (absent: no forwarding). */
    syslog: SyslogConfigSchema.optional(),
  })
  .strict();
export type AuditConfig = z.infer<typeof AuditConfigSchema>;
