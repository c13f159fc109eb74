/**
 * The plant's MQTT connection (mqtt.js v5): TLS with server verification unless plain TCP was
 * configured explicitly, username/password, keepalive, a signed retained state message as last
 * will ("offline") and as birth ("online"), and explicit states with a typed event map.
 *
 * mqtt.js keeps unacknowledged publishes in memory and its packet ids wrap at 65 535, so this
 * link never lets it queue: it publishes only while connected, at most `window` QoS 1 messages
 * await their PUBACK, and a token bucket bounds the drain rate. The outbox is the only queue.
 * Each connection attempt is a fresh client (mqtt.js's own reconnect is off): a new last will
 * per session, and whatever was in flight is simply published again from the outbox.
 */
import type { TLSSocket } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../core/log';
import type { Clock } from '../core/types';
import { backoffDelay } from '../modbus/backoff';
import { brokerAddress } from './config';

export type LinkState = 'connecting' | 'online' | 'offline' | 'closed';

export interface LinkError {
  /** TLS_UNTRUSTED, BROKER_AUTH, BROKER_UNREACHABLE, BROKER_TIMEOUT, BROKER_REFUSED, BROKER_ERROR. */
  code: string;
  message: string;
}

/** What the UI and /healthz show of the connection. */
export interface LinkStatus {
  state: LinkState;
  since: number;
  connectedSince: number | null;
  /** Since when there has been no broker connection (null while online). */
  downSince: number | null;
  attempts: number;
  lastError: LinkError | null;
  tls: boolean;
  /** SHA-256 of the broker's certificate as the TLS handshake presented it (colon-separated hex). */
  serverFingerprint: string | null;
  inflight: number;
}

export interface LinkEvents {
  state: LinkStatus;
  message: { topic: string; payload: Buffer };
  /** A PUBACK freed a slot of the window, or the link came online: publishing may continue. */
  capacity: undefined;
}

/**
 * A publish that did not get through: the broker refused it (MQTT 5 reason code ≥ 0x80),
 * accepted it for nobody (0x10 "no matching subscribers": no receiver will ever get it), or a
 * closed connection cut it short.
 */
export class PublishError extends Error {
  constructor(
    readonly kind: 'refused' | 'undelivered' | 'closed',
    message: string,
    readonly reasonCode?: number,
  ) {
    super(message);
  }
}

/** MQTT 5 PUBACK reason code "No matching subscribers": accepted, and delivered to nobody. */
export const NO_MATCHING_SUBSCRIBERS = 0x10;

export interface MqttLinkOptions {
  url: string;
  protocolVersion: 4 | 5;
  /** Omitted only for plain TCP. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string };
  username?: string;
  password?: string;
  clientId: string;
  keepaliveS: number;
  connectTimeoutMs: number;
  backoff: { initialDelayMs: number; maxDelayMs: number; randomisationFactor: number };
  window: number;
  maxMessagesPerSecond: number;
  maxBytesPerSecond: number;
  /** The signed state messages of a session (`session` = its connection time). */
  stateMessages(session: number): { topic: string; online: string; offline: string };
  subscriptions: string[];
  clock: Clock;
  log: Logger;
  random?: () => number;
  /** The transport, injectable for tests (default mqtt.connect). */
  connect?: (opts: IClientOptions) => MqttClient;
}

/** Node's codes for a peer certificate that does not verify (the syslog forwarding words them the same way). */
export const TLS_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A connection failure in words an operator or plant IT can act on. */
export function describeLinkError(err: unknown, url: string): LinkError {
  const e = err as { code?: unknown; message?: unknown };
  const code = e.code;
  const msg = typeof e.message === 'string' ? e.message : String(err);
  if (typeof code === 'string' && TLS_CODES.has(code)) {
    return {
      code: 'TLS_UNTRUSTED',
      message: `The broker's certificate is not trusted (${code}): not connecting. Check uplink.tls.ca and servername.`,
    };
  }
  if (typeof code === 'number' && (code === 4 || code === 134)) {
    return {
      code: 'BROKER_AUTH',
      message: `The broker refused the plant's username or password (${msg}). Check uplink.username and the password variable.`,
    };
  }
  if (typeof code === 'number' && (code === 5 || code === 135)) {
    // mosquitto also refuses the connection when the last will's topic is outside the plant's ACL.
    return {
      code: 'BROKER_AUTH',
      message: `The broker does not authorize this plant (${msg}). Check the credentials and the broker's ACL for this plant's prefix.`,
    };
  }
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND' || code === 'ECONNRESET' || code === 'EPIPE') {
    return { code: 'BROKER_UNREACHABLE', message: `Cannot reach the broker at ${url} (${String(code)}).` };
  }
  if (/timeout/i.test(msg)) return { code: 'BROKER_TIMEOUT', message: `The broker at ${url} did not answer in time (${msg}).` };
  return { code: 'BROKER_ERROR', message: `Broker connection failed: ${msg}` };
}

/** A token bucket of messages and bytes per second, one second deep. */
class RateLimit {
  private msgs: number;
  private bytes: number;
  private at: number;

  constructor(
    private readonly perS: number,
    private readonly bytesPerS: number,
    private readonly now: () => number,
  ) {
    this.msgs = perS;
    this.bytes = bytesPerS;
    this.at = now();
  }

  private refill(): void {
    const t = this.now();
    const dt = Math.max(0, t - this.at) / 1000;
    this.at = t;
    this.msgs = Math.min(this.perS, this.msgs + dt * this.perS);
    this.bytes = Math.min(this.bytesPerS, this.bytes + dt * this.bytesPerS);
  }

  /** Milliseconds until a message of `size` bytes may go (0: now). A message larger than a second's bytes waits for a full bucket. */
  waitMs(size: number): number {
    this.refill();
    const needBytes = Math.min(size, this.bytesPerS);
    const m = this.msgs >= 1 ? 0 : ((1 - this.msgs) / this.perS) * 1000;
    const b = this.bytes >= needBytes ? 0 : ((needBytes - this.bytes) / this.bytesPerS) * 1000;
    return Math.ceil(Math.max(m, b));
  }

  take(size: number): void {
    this.msgs -= 1;
    this.bytes -= size;
  }
}

type Handler<T> = (payload: T) => void;

/** One plant's connection to its broker. */
export class MqttLink {
  private readonly o: MqttLinkOptions;
  private client: MqttClient | null = null;
  private current: LinkStatus;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inflight = 0;
  /** PUBACK reason codes by packet id, seen before mqtt.js calls back (it reports 0x10 as plain success). */
  private pubackCodes = new Map<number, number>();
  /** Connections lost or refused since the last success: the backoff's attempt number. */
  private failures = 0;
  private readonly rate: RateLimit;
  private readonly handlers: { [K in keyof LinkEvents]: Set<Handler<LinkEvents[K]>> } = {
    state: new Set(),
    message: new Set(),
    capacity: new Set(),
  };

  constructor(opts: MqttLinkOptions) {
    this.o = opts;
    this.current = {
      state: 'offline',
      since: opts.clock.now(),
      connectedSince: null,
      downSince: opts.clock.now(),
      attempts: 0,
      lastError: null,
      tls: opts.tls !== undefined,
      serverFingerprint: null,
      inflight: 0,
    };
    this.rate = new RateLimit(opts.maxMessagesPerSecond, opts.maxBytesPerSecond, () => opts.clock.now());
  }

  /** Subscribes to an event; returns the unsubscribe. */
  on<K extends keyof LinkEvents>(event: K, handler: Handler<LinkEvents[K]>): () => void {
    const set = this.handlers[event] as Set<Handler<LinkEvents[K]>>;
    set.add(handler);
    return () => void set.delete(handler);
  }

  /** The connection as the UI shows it. */
  status(): LinkStatus {
    return { ...this.current, inflight: this.inflight };
  }

  /** Starts connecting (and reconnecting, with backoff and jitter, until `stop`). */
  start(): void {
    if (this.current.state === 'closed' || this.client || this.timer) return;
    this.attempt();
  }

  /** Publishes the retained "offline" state and disconnects; no reconnect afterwards. */
  async stop(): Promise<void> {
    if (this.current.state === 'closed') return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    const session = this.current.connectedSince;
    const wasOnline = this.current.state === 'online';
    this.setState('closed', {});
    this.client = null;
    if (!client) return;
    if (wasOnline && session !== null && client.connected) {
      // A clean disconnect discards the last will: say "offline" ourselves, bounded in time.
      const s = this.o.stateMessages(session);
      await Promise.race([
        new Promise<void>((r) => client.publish(s.topic, s.offline, { qos: 1, retain: true }, () => r())),
        new Promise<void>((r) => setTimeout(r, 2000).unref()),
      ]);
    }
    await new Promise<void>((r) => client.end(false, {}, () => r()));
  }

  /** Milliseconds until a message of `size` bytes may be published: 0 now, Infinity while offline or the window is full. */
  waitMs(size: number): number {
    if (this.current.state !== 'online' || !this.client?.connected || this.inflight >= this.o.window) return Infinity;
    return this.rate.waitMs(size);
  }

  /**
   * Publishes with QoS 1; resolves on the broker's PUBACK with reason code 0. Rejects with a
   * PublishError for any other answer: "undelivered" for 0x10 (nobody subscribed: the batch
   * must stay in the outbox), "refused" for ≥ 0x80, "closed" when the connection dropped.
   * Refuses (throws) unless online and allowed now by the window and the rate (check `waitMs`
   * first): mqtt.js never queues.
   */
  publish(topic: string, payload: Buffer | string, opts: { retain?: boolean } = {}): Promise<void> {
    const client = this.client;
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (!client || this.waitMs(size) !== 0)
      throw new PublishError('closed', 'not connected, or the in-flight window or rate limit is exhausted');
    this.rate.take(size);
    this.inflight++;
    return new Promise<void>((resolve, reject) => {
      client.publish(topic, payload, { qos: 1, retain: opts.retain ?? false }, (err, packet) => {
        // Only this client's callbacks count against its window: a replaced client's are ignored.
        if (this.client === client) {
          this.inflight--;
          this.emit('capacity', undefined);
        }
        const id = (packet as { messageId?: unknown } | undefined)?.messageId;
        const acked = typeof id === 'number' ? this.pubackCodes.get(id) : undefined;
        if (typeof id === 'number') this.pubackCodes.delete(id);
        if (!err) {
          if (acked === NO_MATCHING_SUBSCRIBERS)
            return reject(new PublishError('undelivered', 'the broker has no subscriber for it (reason code 0x10)', acked));
          return resolve();
        }
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'number' && code >= 0x80) reject(new PublishError('refused', err.message, code));
        else reject(new PublishError('closed', err.message));
      });
    });
  }

  private attempt(): void {
    this.timer = null;
    if (this.current.state === 'closed') return;
    const session = this.o.clock.now();
    const s = this.o.stateMessages(session);
    const { host, port } = brokerAddress(this.o.url);
    const t = this.o.tls;
    const options: IClientOptions = {
      protocol: t ? 'mqtts' : 'mqtt',
      host,
      port,
      protocolVersion: this.o.protocolVersion,
      clientId: this.o.clientId,
      keepalive: this.o.keepaliveS,
      connectTimeout: this.o.connectTimeoutMs,
      reconnectPeriod: 0,
      clean: true,
      queueQoSZero: false,
      resubscribe: false,
      will: { topic: s.topic, payload: Buffer.from(s.offline), qos: 1, retain: true },
      ...(this.o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
      ...(this.o.username !== undefined ? { username: this.o.username } : {}),
      ...(this.o.password !== undefined ? { password: this.o.password } : {}),
      ...(t
        ? {
            rejectUnauthorized: true,
            servername: t.servername ?? host,
            ...(t.ca ? { ca: t.ca } : {}),
            ...(t.cert ? { cert: t.cert } : {}),
            ...(t.key ? { key: t.key } : {}),
          }
        : {}),
    };
    this.current.attempts++;
    this.setState('connecting', {});
    const client = (this.o.connect ?? mqtt.connect)(options);
    this.client = client;
    this.inflight = 0;
    this.pubackCodes.clear();
    let failure: LinkError | null = null;
    // mqtt.js calls a publish back with success for 0x10 and without the PUBACK: its code is taken here first.
    client.on('packetreceive', (packet) => {
      const p = packet as { cmd?: string; messageId?: number; reasonCode?: number };
      if (
        this.client === client &&
        p.cmd === 'puback' &&
        typeof p.messageId === 'number' &&
        typeof p.reasonCode === 'number' &&
        p.reasonCode > 0
      )
        this.pubackCodes.set(p.messageId, p.reasonCode);
    });
    client.on('connect', () => {
      if (this.client !== client) return;
      const sock = client.stream as Partial<TLSSocket>;
      const fp = typeof sock.getPeerCertificate === 'function' ? (sock.getPeerCertificate().fingerprint256 ?? null) : null;
      this.current.attempts = 0;
      this.failures = 0;
      this.setState('online', { connectedSince: session, downSince: null, serverFingerprint: fp, lastError: null });
      this.o.log.log('info', 'Uplink connected', { broker: this.o.url, tls: t !== undefined, serverFingerprint: fp });
      client.publish(s.topic, s.online, { qos: 1, retain: true }, (err) => {
        if (err) this.o.log.log('warn', 'Uplink birth message not acknowledged', { error: err.message });
      });
      for (const topic of this.o.subscriptions) {
        client.subscribe(topic, { qos: 1 }, (err, granted) => {
          const refused = err ?? (granted?.some((g) => g.qos >= 0x80) ? new Error('refused by the broker') : null);
          if (refused) this.o.log.log('warn', 'Uplink cannot subscribe to its downlink topic', { topic, error: refused.message });
        });
      }
      this.emit('capacity', undefined);
    });
    client.on('message', (topic, payload) => {
      if (this.client === client) this.emit('message', { topic, payload });
    });
    client.on('error', (err) => {
      failure = describeLinkError(err, this.o.url);
    });
    client.on('close', () => {
      if (this.client !== client) return;
      this.client = null;
      this.inflight = 0;
      client.end(true);
      const wasOnline = this.current.state === 'online';
      const error =
        failure ??
        (wasOnline
          ? { code: 'BROKER_UNREACHABLE', message: `The connection to ${this.o.url} was lost.` }
          : { code: 'BROKER_UNREACHABLE', message: `The broker at ${this.o.url} closed the connection before accepting it.` });
      this.setState('offline', { connectedSince: null, downSince: this.current.downSince ?? this.o.clock.now(), lastError: error });
      this.o.log.log(wasOnline ? 'warn' : 'info', wasOnline ? 'Uplink disconnected' : 'Uplink connection attempt failed', {
        broker: this.o.url,
        code: error.code,
        reason: error.message,
      });
      this.failures++;
      const delay = backoffDelay(this.failures, this.o.backoff, this.o.random);
      this.timer = setTimeout(() => this.attempt(), delay);
      this.timer.unref?.();
    });
  }

  private setState(state: LinkState, patch: Partial<LinkStatus>): void {
    const changed = this.current.state !== state;
    this.current = { ...this.current, ...patch, state, since: changed ? this.o.clock.now() : this.current.since };
    this.emit('state', this.status());
  }

  private emit<K extends keyof LinkEvents>(event: K, payload: LinkEvents[K]): void {
    for (const h of [...(this.handlers[event] as Set<Handler<LinkEvents[K]>>)]) {
      try {
        h(payload);
      } catch (err) {
        this.o.log.log('warn', `An uplink ${event} handler threw`, { error: String(err) });
      }
    }
  }
}
