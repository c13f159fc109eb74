/**
 * The reference cloud receiver: an MQTT 5 shared subscription (`$share/<group>/pc/v1/+/up/#`
 * and `…/state`) so several receivers split the load, every message verified and decrypted by
 * the inbox, and acknowledged (PUBACK) only after its outcome is committed to the shared store.
 */
import type { MqttClient } from 'mqtt';
import { ConsoleError } from '../src-main/core/errors';
import { cloudSubscription, randomBytes, toHex } from '../src-main/protocol';
import { brokerOptions, clientIdFor, connectOnce } from './broker';
import { openCloudKeys } from './cloud-keys';
import { resolveReceiverConfig, type ReceiverConfigInput, type ResolvedReceiverConfig } from './config';
import type { ReceiverEvent } from './events';
import { createInbox, type InboxStats, type ObservedBatch } from './inbox';
import { openCloudStore, type CloudStore } from './store';

/** How a receiver is run (all optional; tests inject the clock). */
export interface ReceiverOptions {
  /** Anchors relative paths of a raw configuration object (default: the working directory). */
  baseDir?: string;
  env?: Record<string, string | undefined>;
  /** The broker password, for in-process use instead of `broker.passwordEnv`. */
  password?: string;
  /** The receiver's clock (ms): key grace periods are judged against it. */
  now?: () => number;
  onEvent?: (e: ReceiverEvent) => void;
  /** Every stored batch, after its commit (the reference rule watches them). */
  onBatch?: (b: ObservedBatch) => void;
  /** Names this receiver in events and in the store (default: random). */
  name?: string;
}

/** A receiver's counters and connection. */
export interface ReceiverStats extends InboxStats {
  name: string;
  group: string;
  connected: boolean;
  /** Set when the receiver stopped because it could not store (it then acknowledges nothing more). */
  failed: string | null;
  cloudKeyIds: string[];
}

/** A running receiver. */
export interface Receiver {
  readonly name: string;
  stats(): ReceiverStats;
  /** The resolved configuration (registry, broker) and the store this receiver writes. */
  readonly config: ResolvedReceiverConfig;
  readonly store: CloudStore;
  /** Publishes on the receiver's connection, QoS 1, not retained (recommendations on a plant's downlink). */
  publish(topic: string, text: string): Promise<void>;
  stop(): Promise<void>;
  /** Settles when the receiver has stopped (by `stop()` or after a store failure). */
  readonly closed: Promise<{ error: string | null }>;
}

function isResolved(c: ReceiverConfigInput | ResolvedReceiverConfig): c is ResolvedReceiverConfig {
  return 'cloudKeyFiles' in c;
}

/** Starts a receiver; resolves once it is connected and subscribed. */
export async function startReceiver(
  config: ReceiverConfigInput | ResolvedReceiverConfig,
  options: ReceiverOptions = {},
): Promise<Receiver> {
  const cfg = isResolved(config)
    ? config
    : resolveReceiverConfig(config, options.baseDir ?? process.cwd(), options.env ?? process.env, options.password);
  const name = options.name ?? `receiver-${toHex(randomBytes(3))}`;
  const now = options.now ?? Date.now;
  const emit = (e: ReceiverEvent): void => options.onEvent?.(e);
  const store = openCloudStore(cfg.database, { receiver: name, now, ...(cfg.databaseKey ? { key: cfg.databaseKey } : {}) });
  store.registerPlants(cfg.plants);
  let cloudKeys;
  try {
    cloudKeys = openCloudKeys(cfg.cloudKeyFiles, { onError: (message) => emit({ event: 'error', receiver: name, message }) });
  } catch (err) {
    store.close();
    throw err;
  }
  const keys = cloudKeys;
  const inbox = createInbox({
    receiver: name,
    store,
    cloudKeys: keys,
    plants: cfg.plants,
    now,
    reorderWindow: cfg.reorderWindow,
    announcementWaitMs: cfg.announcementWaitMs,
    ...(options.onBatch ? { onBatch: options.onBatch } : {}),
  });

  let failed: string | null = null;
  let stopping = false;
  let settle: (v: { error: string | null }) => void = () => {};
  const closed = new Promise<{ error: string | null }>((r) => (settle = r));
  let client: MqttClient | null = null;

  const release = (): void => {
    keys.close();
    store.close();
  };

  const prepare = (c: MqttClient): void => {
    c.handleMessage = (packet, callback) => {
      if (failed) return;
      keys.refresh();
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : packet.payload;
      inbox.handle(packet.topic, payload).then(
        (events) => {
          for (const e of events) emit(e);
          callback();
        },
        (err: unknown) => {
          // The outcome was not committed: acknowledge nothing, leave the session so the broker
          // hands the message (and what follows) to another receiver of the group.
          failed = `cannot store: ${(err as Error).message}`;
          emit({ event: 'error', receiver: name, message: failed });
          void stop();
        },
      );
    };
    c.on('offline', () => !stopping && emit({ event: 'connection', receiver: name, state: 'offline' }));
    c.on('reconnect', () => !stopping && emit({ event: 'connection', receiver: name, state: 'reconnecting' }));
    c.on('error', (err) => !stopping && emit({ event: 'connection', receiver: name, state: 'offline', detail: err.message }));
  };

  async function stop(): Promise<void> {
    if (stopping) return closed.then(() => undefined);
    stopping = true;
    try {
      await client?.endAsync(failed !== null);
    } finally {
      release();
      emit({ event: 'connection', receiver: name, state: 'closed', ...(failed ? { detail: failed } : {}) });
      settle({ error: failed });
    }
  }

  // A fixed client id means a persistent session: messages queued while the receiver was away.
  const persistent = cfg.broker.clientId !== undefined;
  const v5 = cfg.broker.protocolVersion === 5;
  const opts = brokerOptions(cfg.broker, cfg.broker.clientId ?? clientIdFor(`sc-${cfg.group}`), {
    clean: !persistent,
    reconnectPeriod: 2000,
    ...(persistent && v5 ? { properties: { sessionExpiryInterval: 86_400 } } : {}),
  });
  // MQTT 3.1.1 has no shared subscriptions: such a receiver must be the only one.
  const filters = cloudSubscription(v5 ? cfg.group : undefined);
  try {
    client = await connectOnce(opts, prepare);
    const grants = await client.subscribeAsync(filters, { qos: 1 });
    const refused = grants.filter((g) => g.qos >= 128);
    if (refused.length) {
      throw new ConsoleError(
        'UNAVAILABLE',
        `The broker refused the subscription ${refused.map((g) => `${g.topic} (reason ${g.qos})`).join(', ')}: check the ACL of ${cfg.broker.username ?? 'this user'}`,
      );
    }
  } catch (err) {
    stopping = true;
    await client?.endAsync(true).catch(() => undefined);
    release();
    throw err;
  }
  client.on('connect', () => emit({ event: 'connection', receiver: name, state: 'online' }));
  emit({
    event: 'connection',
    receiver: name,
    state: 'online',
    detail: `${cfg.broker.url} ${v5 ? `group ${cfg.group}` : 'MQTT 3.1.1, no shared subscription'}`,
  });

  const connected = client;
  return {
    name,
    closed,
    stop,
    config: cfg,
    store,
    async publish(topic, text) {
      if (stopping) throw new ConsoleError('UNAVAILABLE', `Receiver ${name} is stopped: cannot publish on ${topic}`);
      const ack = (await connected.publishAsync(topic, text, { qos: 1, retain: false })) as { reasonCode?: number } | undefined;
      if ((ack?.reasonCode ?? 0) >= 128)
        throw new ConsoleError('UNAVAILABLE', `The broker refused the message on ${topic} (reason ${ack?.reasonCode}): check the ACL`);
    },
    stats: () => ({
      ...inbox.stats(),
      name,
      group: cfg.group,
      connected: client?.connected ?? false,
      failed,
      cloudKeyIds: keys.kids(),
    }),
  };
}
