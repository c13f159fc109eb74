/**
 * The reference cloud receiver: an MQTT 5 shared subscription (`$share/<group>/pc/v1/+/up/#`
 * and `…/state`) so several receivers split the load, every message verified and decrypted by
 * the inbox, and acknowledged (PUBACK) only after its outcome is committed to the shared store;
 * what it stored (or held already) is acknowledged to each plant on its downlink (acks.ts).
 *
 * It needs a stable client id (`broker.clientId`): its persistent session is what keeps messages
 * at the broker while it is away. And it subscribes again on every connection, whatever the
 * broker says of the session: mosquitto 2.0 restores a persistent session after a restart but
 * not its shared subscriptions, and still answers "session present".
 */
import type { MqttClient } from 'mqtt';
import { ConsoleError } from '../src-main/core/errors';
import { cloudSubscription, randomBytes, toHex } from '../src-main/protocol';
import { createAckSender } from './acks';
import { brokerOptions, connectOnce } from './broker';
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
  if (cfg.broker.clientId === undefined) {
    throw new ConsoleError(
      'CONFIG_INVALID',
      'broker.clientId is required to receive: a stable id of its own for each receiver (e.g. "supplier-cloud-rx-1"). ' +
        "It names the receiver's persistent session, which keeps messages at the broker while the receiver is away; " +
        'without one, a restart of the receiver loses what arrived meanwhile.',
    );
  }
  const clientId = cfg.broker.clientId;
  const name = options.name ?? `receiver-${toHex(randomBytes(3))}`;
  const now = options.now ?? Date.now;
  const emit = (e: ReceiverEvent): void => options.onEvent?.(e);
  const store = openCloudStore(cfg.database, {
    receiver: name,
    now,
    maxSequenceJump: cfg.maxSequenceJump,
    ...(cfg.databaseKey ? { key: cfg.databaseKey } : {}),
  });
  store.registerPlants(cfg.plants);
  let cloudKeys;
  try {
    cloudKeys = openCloudKeys(cfg.cloudKeyFiles, { onError: (message) => emit({ event: 'error', receiver: name, message }) });
  } catch (err) {
    store.close();
    throw err;
  }
  const keys = cloudKeys;
  let client: MqttClient | null = null;
  const acks = createAckSender({
    publish: async (topic, text) => {
      const c = client;
      if (!c) throw new Error('not connected');
      const ack = (await c.publishAsync(topic, text, { qos: 1, retain: false })) as { reasonCode?: number } | undefined;
      if ((ack?.reasonCode ?? 0) >= 128) throw new Error(`refused by the broker (reason ${ack?.reasonCode})`);
    },
    high: (plant) => store.highest(plant),
    now,
    onError: (message) => emit({ event: 'error', receiver: name, message }),
  });
  const inbox = createInbox({
    receiver: name,
    store,
    cloudKeys: keys,
    plants: cfg.plants,
    now,
    reorderWindow: cfg.reorderWindow,
    announcementWaitMs: cfg.announcementWaitMs,
    ...(cfg.acknowledge ? { onSettled: (plant: string, seq: number) => acks.settled(plant, seq) } : {}),
    ...(options.onBatch ? { onBatch: options.onBatch } : {}),
  });

  let failed: string | null = null;
  let stopping = false;
  let settle: (v: { error: string | null }) => void = () => {};
  const closed = new Promise<{ error: string | null }>((r) => (settle = r));
  let retention: ReturnType<typeof setInterval> | null = null;

  const release = (): void => {
    if (retention) clearInterval(retention);
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
      // What was stored is acknowledged before the connection goes (else the plants send it again).
      if (failed === null) await acks.stop();
      await client?.endAsync(failed !== null);
    } finally {
      release();
      emit({ event: 'connection', receiver: name, state: 'closed', ...(failed ? { detail: failed } : {}) });
      settle({ error: failed });
    }
  }

  // The fixed client id's persistent session keeps messages queued while the receiver is away (24 h).
  const v5 = cfg.broker.protocolVersion === 5;
  const opts = brokerOptions(cfg.broker, clientId, {
    clean: false,
    reconnectPeriod: 2000,
    // Subscribed again on every connection below: mqtt.js would skip it when the broker says "session present".
    resubscribe: false,
    ...(v5 ? { properties: { sessionExpiryInterval: 86_400 } } : {}),
  });
  // MQTT 3.1.1 has no shared subscriptions: such a receiver must be the only one.
  const filters = cloudSubscription(v5 ? cfg.group : undefined);
  const subscribe = async (c: MqttClient): Promise<void> => {
    const grants = await c.subscribeAsync(filters, { qos: 1 });
    const refused = grants.filter((g) => g.qos >= 128);
    if (refused.length) {
      throw new ConsoleError(
        'UNAVAILABLE',
        `The broker refused the subscription ${refused.map((g) => `${g.topic} (reason ${g.qos})`).join(', ')}: check the ACL of ${cfg.broker.username ?? 'this user'}`,
      );
    }
  };
  try {
    client = await connectOnce(opts, prepare);
    await subscribe(client);
  } catch (err) {
    stopping = true;
    await client?.endAsync(true).catch(() => undefined);
    release();
    throw err;
  }
  const connectedClient = client;
  connectedClient.on('connect', () => {
    emit({ event: 'connection', receiver: name, state: 'online' });
    // Whatever the session-present flag says: a restarted mosquitto keeps the session but not its shared subscription.
    subscribe(connectedClient).catch((err: unknown) =>
      emit({ event: 'error', receiver: name, message: `cannot subscribe again after reconnecting: ${(err as Error).message}` }),
    );
  });
  if (cfg.retentionDays !== undefined) {
    const days = cfg.retentionDays;
    const prune = (): void => {
      try {
        const n = store.prune(now() - days * 86_400_000);
        if (n > 0) emit({ event: 'retention', receiver: name, deleted: n, olderThanDays: days });
      } catch (err) {
        emit({ event: 'error', receiver: name, message: `retention failed: ${(err as Error).message}` });
      }
    };
    prune();
    retention = setInterval(prune, 3_600_000);
    retention.unref?.();
  }
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
