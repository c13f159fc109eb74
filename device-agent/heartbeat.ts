/**
 * Signed heartbeats: what a module tells its console every few seconds about its health, so the
 * console can raise alarms for missed heartbeats, unknown firmware hashes, restarts and
 * rollbacks, an opened enclosure, foreign Modbus clients, a wrong key or a drifting clock.
 *
 * A heartbeat is a JSON document signed like the console's other documents (RFC 8785 JCS +
 * Ed25519 under its own label, src-main/protocol/canonical.ts): `kid` is the module's key id,
 * `sig` the signature. (`boot`, `seq`) orders heartbeats across restarts: `boot` is persisted in
 * the module's state at every boot, `seq` counts within a boot from 1.
 */
import { z } from 'zod';
import { signJson, verifySignedJson, type Signed } from '../src-main/protocol/canonical';
import { keyId, type SigningKeyPair } from '../src-main/protocol/keys';
import { silentLogger, type Logger } from '../src-main/core/log';
import { exchangeJson, type ConsoleEndpoint } from './console-client';
import { MAX_ROLLBACKS, ROLLBACK_REASONS } from './module-state';

export const HEARTBEAT_LABEL = 'plant-console/module-heartbeat/v1';
export const HEARTBEAT_KIND = 'plant-console/module-heartbeat/v1';
export const HEARTBEAT_PATH = '/module/v1/heartbeat';
/** A heartbeat is a few KiB; anything larger is refused unread. */
export const MAX_HEARTBEAT_BYTES = 32 * 1024;

const time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const version = z.string().min(1).max(32);
const slot = z.enum(['a', 'b']).nullable();

export const HeartbeatSchema = z
  .object({
    kind: z.literal(HEARTBEAT_KIND),
    module: z.string().min(1).max(64),
    model: z.string().min(1).max(64),
    boot: count,
    seq: count,
    time,
    uptimeS: z.number().min(0).max(1e12),
    firmware: z
      .object({
        version,
        /** BLAKE2b-512 of the running image, hex: the console matches it against signed releases. */
        blake2b512: z.string().regex(/^[0-9a-f]{128}$/),
        /** null: the factory image built into the agent. */
        slot,
        state: z.enum(['factory', 'committed', 'trial']),
        /** Boots of the trial so far (0 when not on trial). */
        trialBoot: count,
      })
      .strict(),
    rollbacks: z
      .array(
        z
          .object({
            at: time,
            from: z.object({ slot, version }).strict(),
            to: z.object({ slot, version }).strict(),
            reason: z.enum(ROLLBACK_REASONS),
            detail: z.string().max(500),
            boot: count,
          })
          .strict(),
      )
      .max(MAX_ROLLBACKS),
    /** The enclosure switch: open = someone opened the module's housing. */
    tamper: z.object({ open: z.boolean(), since: time.nullable() }).strict(),
    resources: z.object({ rssBytes: count, heapUsedBytes: count, cpuPercent: z.number().min(0).max(100_000) }).strict(),
    /** Remote `address:port` of every Modbus TCP client connected to the module. */
    modbusClients: z.array(z.string().max(64)).max(256),
    update: z
      .object({
        state: z.enum(['idle', 'downloading', 'installing', 'refused', 'failed']),
        version: version.nullable(),
        received: count,
        total: count,
        error: z.string().max(500).nullable(),
      })
      .strict(),
  })
  .strict();

export type HeartbeatBody = z.infer<typeof HeartbeatSchema>;
export type Heartbeat = Signed<HeartbeatBody>;

/** Signs a heartbeat with the module's key. */
export function signHeartbeat(body: HeartbeatBody, keys: SigningKeyPair): Heartbeat {
  return signJson(HEARTBEAT_LABEL, HeartbeatSchema.parse(body), keys);
}

export type HeartbeatRefusal = 'malformed' | 'wrong_key' | 'bad_signature' | 'clock_skew';

/**
 * The console's check of a received heartbeat against the paired module's public key: schema,
 * key id, signature, then the clock (|time − now| ≤ maxSkewMs). Never throws.
 */
export function verifyHeartbeat(
  doc: unknown,
  modulePublicKey: Uint8Array,
  opts: { now: number; maxSkewMs: number },
): { ok: true; heartbeat: Heartbeat; skewMs: number } | { ok: false; code: HeartbeatRefusal; message: string } {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    return { ok: false, code: 'malformed', message: 'A heartbeat is a JSON object.' };
  const { kid, sig, ...rest } = doc as Record<string, unknown>;
  const parsed = HeartbeatSchema.safeParse(rest);
  if (!parsed.success || typeof kid !== 'string' || typeof sig !== 'string') {
    const issue = parsed.success ? undefined : parsed.error.issues[0];
    const where = issue ? `at ${issue.path.join('.') || '(root)'}: ${issue.message}` : 'kid and sig must be strings';
    return { ok: false, code: 'malformed', message: `The heartbeat is invalid ${where}.` };
  }
  let expected: string;
  try {
    expected = keyId(modulePublicKey, 'ed25519');
  } catch {
    return { ok: false, code: 'wrong_key', message: 'The paired key is not an Ed25519 public key.' };
  }
  if (kid !== expected) {
    return {
      ok: false,
      code: 'wrong_key',
      message: `The heartbeat of ${parsed.data.module} is signed by key ${kid}, not by its paired key ${expected}.`,
    };
  }
  if (!verifySignedJson(HEARTBEAT_LABEL, doc as Record<string, unknown>, modulePublicKey)) {
    return { ok: false, code: 'bad_signature', message: `The heartbeat signature of ${parsed.data.module} does not verify.` };
  }
  const skewMs = parsed.data.time - opts.now;
  if (Math.abs(skewMs) > opts.maxSkewMs) {
    return {
      ok: false,
      code: 'clock_skew',
      message: `The clock of ${parsed.data.module} is ${Math.round(skewMs / 1000)} s off the console's (at most ${Math.round(opts.maxSkewMs / 1000)} s).`,
    };
  }
  return { ok: true, heartbeat: { ...parsed.data, kid, sig }, skewMs };
}

/** True when `next` comes after `prev` (a replayed or reordered heartbeat does not). */
export function isNewerHeartbeat(prev: Pick<HeartbeatBody, 'boot' | 'seq'> | null, next: Pick<HeartbeatBody, 'boot' | 'seq'>): boolean {
  return !prev || next.boot > prev.boot || (next.boot === prev.boot && next.seq > prev.seq);
}

/** What the console may answer to a heartbeat. */
export const HeartbeatAnswerSchema = z
  .object({
    /** The console read the module (or otherwise saw it healthy): a trial may commit. */
    confirmHealth: z.boolean().optional(),
    /** An approved update to fetch: GET …/firmware/{id}/manifest and …/image. */
    update: z
      .object({ id: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/) })
      .strict()
      .optional(),
    /** A newer root of trust (docs/firmware.md §5.3): base64 of its bytes and its signature files. */
    root: z
      .object({
        root: z.string().min(1).max(200_000),
        signatures: z
          .array(
            z
              .string()
              .min(1)
              .max(16 * 1024),
          )
          .min(1)
          .max(64),
      })
      .strict()
      .optional(),
  })
  .passthrough();
export type HeartbeatAnswer = z.infer<typeof HeartbeatAnswerSchema>;

/** A heartbeat loop. */
export interface HeartbeatSender {
  /** Sends one now (a tamper change, a rollback) without waiting for the interval. */
  sendNow(): void;
  /** Heartbeats sent and failed so far. */
  stats(): { sent: number; failed: number; lastError: string | null };
  stop(): Promise<void>;
}

/**
 * Posts a signed heartbeat to the console every `intervalMs` (and on `sendNow`); one at a time,
 * a failed one is logged and counted, never retried (the next one supersedes it).
 */
export function startHeartbeats(opts: {
  endpoint: ConsoleEndpoint;
  keys: SigningKeyPair;
  intervalMs: number;
  timeoutMs?: number;
  /** The body of the next heartbeat, without seq (the sender numbers them). */
  collect: () => Omit<HeartbeatBody, 'seq'>;
  onAnswer?: (answer: HeartbeatAnswer) => void;
  logger?: Logger;
}): HeartbeatSender {
  const log = opts.logger ?? silentLogger;
  let seq = 0;
  let sent = 0;
  let failed = 0;
  let lastError: string | null = null;
  let inFlight: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  const once = async (): Promise<void> => {
    const doc = signHeartbeat({ ...opts.collect(), seq: ++seq }, opts.keys);
    try {
      const raw = await exchangeJson(opts.endpoint, HEARTBEAT_PATH, { method: 'POST', body: doc, timeoutMs: opts.timeoutMs ?? 10_000 });
      sent++;
      lastError = null;
      const answer = HeartbeatAnswerSchema.safeParse(raw);
      if (answer.success) opts.onAnswer?.(answer.data);
      else log.log('warn', 'device-agent: the console answered a heartbeat with something unexpected');
    } catch (err) {
      failed++;
      lastError = (err as Error).message;
      log.log('warn', 'device-agent: heartbeat not delivered', { error: lastError });
    }
  };
  const fire = (): void => {
    if (stopped) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = once().finally(() => {
      inFlight = null;
      if (again && !stopped) {
        again = false;
        fire();
      }
    });
  };
  const timer = setInterval(fire, opts.intervalMs);
  timer.unref();
  fire();
  return {
    sendNow: fire,
    stats: () => ({ sent, failed, lastError }),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
    },
  };
}
