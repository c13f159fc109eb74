/**
 * The uplink service: PlantCore.onPoll (every poll, whatever the UI's event rate) → batcher → outbox (in the encrypted store) → MQTT
 * link, with the downlink beside it, and the status the UI, the API and /healthz show.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { UplinkStatus } from '../../src-preload/contract';
import type { ResolvedDevice } from '../config/schema';
import { ConsoleError } from '../core/errors';
import type { Logger } from '../core/log';
import { systemClock, type Clock } from '../core/types';
import { buildStateMessage, currentEntry, parseAck, plantPseudonym, plantTopics, type KeyRing, type SigningKeyPair } from '../protocol';
import type { StoreDb } from '../store/schema';
import { Batcher, machinePlans, toOutboxItem, type MachinePlan, type MachineSample, type PendingBatch } from './batcher';
import type { UplinkConfig } from './config';
import { Downlink } from './downlink';
import { Forwarder } from './forwarder';
import { buildGapNotice } from './gap';
import { MqttLink } from './mqtt-link';
import { Outbox, type OutboxRow } from './outbox';
import { handoverSigner } from './plant-keys';
import { provisionedCloudRing, provisionedSupplierKeys, readProvisioning } from './provisioning';
import { ensurePseudonymKey, loadCloudRing, META, saveCloudRing, writeMetaJson } from './state';

/** What the service reads from the plant core. */
export interface MachineSource {
  onPoll(handler: (poll: MachineSample) => void): () => void;
}

export interface UplinkServiceOptions {
  config: UplinkConfig;
  /** Directory relative paths of the config (CA, provisioning) are resolved against. */
  configDir: string;
  devices: readonly ResolvedDevice[];
  core: MachineSource;
  store: {
    db: StoreDb;
    identity: { signing: SigningKeyPair };
    /** The sequence high-water mark outside the database (store/sequence-guard.ts). */
    guard?: { reserve(used: number): void; withdraw(to: number): void };
    /** The data dir's disk (store/disk-guard.ts). */
    disk?: { isFull(): boolean; failed(what: string, err: unknown): boolean };
  };
  /** The broker password (default: the environment variable the config names). */
  password?: string;
  env?: Record<string, string | undefined>;
  clock?: Clock;
  log: Logger;
  /** The MQTT transport, injectable for tests. */
  connect?: (opts: IClientOptions) => MqttClient;
}

/** The keys a recommendation report is sealed and signed with. */
export interface ReportKeys {
  plant: SigningKeyPair;
  cloudBox: { kid: string; publicKey: Uint8Array };
}

/** Below this many free pages (16 MiB of 4 KiB) the file is left as it is: new batches reuse them. */
const RECLAIM_MIN_PAGES = 4096;
/** Batches built and committed per turn of the event loop by the interval timer (one machine's sealed and plain). */
const BATCHES_PER_TURN = 2;

export type UplinkHealth = NonNullable<import('../../src-preload/contract').Health['uplink']>;

function readFileOf(dir: string, path: string, what: string): Buffer {
  const full = isAbsolute(path) ? path : resolve(dir, path);
  try {
    return readFileSync(full);
  } catch (err) {
    throw new ConsoleError(
      'CONFIG_UNREADABLE',
      `uplink.${what}: cannot read ${full} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      { cause: err },
    );
  }
}

/** The protected uplink of one plant. */
export class UplinkService {
  readonly outbox: Outbox;
  readonly link: MqttLink;
  readonly downlink: Downlink;
  readonly plant: { id: string; pseudonym: string };
  private readonly o: UplinkServiceOptions;
  private readonly clock: Clock;
  private readonly batcher: Batcher;
  private readonly forwarder: Forwarder;
  private readonly plans: MachinePlan[];
  private ring: KeyRing<Uint8Array>;
  private handover: SigningKeyPair | null = null;
  private readonly updateHandlers = new Set<(s: UplinkStatus) => void>();
  private readonly offs: (() => void)[] = [];
  private batchTimer: ReturnType<typeof setInterval> | null = null;
  private reclaimTimer: ReturnType<typeof setInterval> | null = null;
  private lastUpdateAt = 0;
  private stopped = false;
  private reclaiming = false;
  private reclaimPages = 1024;
  /** Batches taken from the batcher, waiting for their turn in the outbox. */
  private readonly queued: PendingBatch[] = [];
  private appendScheduled = false;

  constructor(opts: UplinkServiceOptions) {
    this.o = opts;
    this.clock = opts.clock ?? systemClock;
    const cfg = opts.config;
    const { db } = opts.store;
    const { provisioning, warnings } = readProvisioning(
      isAbsolute(cfg.provisioning) ? cfg.provisioning : resolve(opts.configDir, cfg.provisioning),
    );
    for (const w of warnings) opts.log.log('warn', w);
    const plantId = provisioning.plant?.id ?? cfg.plantId;
    if (plantId === undefined) {
      throw new ConsoleError(
        'CONFIG_INVALID',
        `uplink: the provisioning file has no plant section: set uplink.plantId to the plant identifier the supplier registered`,
      );
    }
    const pseudonymKey = ensurePseudonymKey(db, provisioning.plant?.pseudonymKey);
    this.plant = { id: plantId, pseudonym: plantPseudonym(pseudonymKey, plantId) };
    // `keys show` and `keys rotate` name the plant by it without needing the config.
    writeMetaJson(db, META.plant, this.plant);
    const loaded = loadCloudRing(db, provisionedCloudRing(provisioning));
    this.ring = loaded.ring;
    if (loaded.source === 'provisioning') saveCloudRing(db, this.ring);
    this.plans = machinePlans(opts.devices, pseudonymKey);
    pseudonymKey.fill(0);
    this.batcher = new Batcher(this.plans);
    const topics = plantTopics(this.plant.pseudonym);
    const signer = (): SigningKeyPair => opts.store.identity.signing;
    // After `keys rotate`, state messages are signed by the key the cloud knows until the announcement is acknowledged.
    this.handover = handoverSigner(db);
    const stateSigner = (): SigningKeyPair => {
      if (this.handover && !this.outbox.announcementPending()) {
        this.handover.secretKey.fill(0);
        this.handover = null;
      }
      return this.handover ?? signer();
    };

    this.outbox = new Outbox(db, {
      budgetBytes: cfg.outbox.budgetBytes,
      clock: this.clock,
      log: opts.log,
      gapNotice: (seq, issued, report) => buildGapNotice({ plant: this.plant.pseudonym, seq, issued, report, signer: signer() }),
      ...(opts.store.guard ? { guard: opts.store.guard } : {}),
      ...(opts.store.disk ? { disk: opts.store.disk } : {}),
    });

    const password = opts.password ?? (cfg.passwordEnv !== undefined ? (opts.env ?? process.env)[cfg.passwordEnv] : undefined);
    if (cfg.passwordEnv !== undefined && password === undefined) {
      throw new ConsoleError('UNAVAILABLE', `uplink: the broker password is missing: set the environment variable ${cfg.passwordEnv}`);
    }
    const tls = cfg.insecurePlainTcp
      ? undefined
      : {
          ...(cfg.tls.ca ? { ca: readFileOf(opts.configDir, cfg.tls.ca, 'tls.ca') } : {}),
          ...(cfg.tls.cert ? { cert: readFileOf(opts.configDir, cfg.tls.cert, 'tls.cert') } : {}),
          ...(cfg.tls.key ? { key: readFileOf(opts.configDir, cfg.tls.key, 'tls.key') } : {}),
          ...(cfg.tls.servername ? { servername: cfg.tls.servername } : {}),
        };
    this.link = new MqttLink({
      url: cfg.broker,
      protocolVersion: cfg.protocolVersion,
      ...(tls ? { tls } : {}),
      ...(cfg.username !== undefined ? { username: cfg.username } : {}),
      ...(password !== undefined ? { password } : {}),
      clientId: cfg.clientId ?? `pc-${this.plant.pseudonym}`,
      keepaliveS: cfg.keepaliveS,
      connectTimeoutMs: cfg.connectTimeoutMs,
      backoff: cfg.backoff,
      window: cfg.publish.inflightWindow,
      maxMessagesPerSecond: cfg.publish.maxMessagesPerSecond,
      maxBytesPerSecond: cfg.publish.maxBytesPerSecond,
      stateMessages: (session) => ({
        topic: topics.state,
        online: buildStateMessage({ plant: this.plant.pseudonym, state: 'online', session, signer: stateSigner() }).json,
        offline: buildStateMessage({ plant: this.plant.pseudonym, state: 'offline', session, signer: stateSigner() }).json,
      }),
      subscriptions: [topics.down],
      clock: this.clock,
      log: opts.log,
      ...(opts.connect ? { connect: opts.connect } : {}),
    });
    this.downlink = new Downlink({
      topic: topics.down,
      ring: () => this.ring,
      saveRing: (ring) => {
        this.ring = ring;
        saveCloudRing(db, ring);
      },
      supplierKeys: provisionedSupplierKeys(provisioning),
      clock: this.clock,
      log: opts.log,
    });
    const topicFor = (row: OutboxRow): string =>
      row.kind === 'gap' || row.kind === 'reco' || row.kind === 'health' || row.kind === 'audit'
        ? `${topics.publishPrefix}${row.kind}`
        : row.kind === 'keys'
          ? topics.keys
          : row.kind === 'sealed'
            ? topics.sealed(row.machine ?? '')
            : topics.plain(row.machine ?? '');
    this.forwarder = new Forwarder({
      outbox: this.outbox,
      link: this.link,
      topicFor,
      log: opts.log,
      clock: this.clock,
      acknowledgement: cfg.publish.acknowledgement,
      cloudWindow: cfg.publish.cloudWindow,
      ackTimeoutMs: cfg.publish.ackTimeoutMs,
      retry: cfg.backoff,
    });
    // The cloud's delivery acknowledgements (protocol/ack.ts): batches leave the outbox on them.
    this.downlink.setHandler('ack', (doc) => {
      const r = parseAck(doc, this.plant.pseudonym);
      if (!r.ok) return { verdict: 'refused', detail: `acknowledgement: ${r.detail}` };
      this.forwarder.cloudAck(r.ack);
      return { verdict: 'accepted', detail: `${r.ack.seqs.length} range(s)` };
    });
  }

  /** Starts batching, the link and the periodic work. */
  start(): void {
    if (this.stopped || this.batchTimer) return;
    const cfg = this.o.config;
    this.offs.push(
      this.o.core.onPoll((poll) => this.batcher.ingest(poll)),
      this.link.on('message', ({ topic, payload }) => void this.downlink.handle(topic, payload)),
      this.link.on('state', () => this.emitUpdate(true)),
    );
    this.batchTimer = setInterval(() => this.tickSliced(), cfg.batchIntervalMs);
    this.batchTimer.unref?.();
    this.reclaimTimer = setInterval(() => this.reclaim(), 250);
    this.reclaimTimer.unref?.();
    if (cfg.insecurePlainTcp)
      this.o.log.log('warn', 'Uplink over plain TCP: everything, plain data included, travels readable', { broker: cfg.broker });
    this.o.log.log('info', 'Uplink started', {
      broker: cfg.broker,
      plant: this.plant.pseudonym,
      machines: this.plans.length,
      lastSeq: this.outbox.stats().lastSeq,
    });
    // Sequence numbers the store check declared lost (a crash or a rollback) are told to the cloud now.
    try {
      this.outbox.append([]);
    } catch (err) {
      this.o.log.log('error', 'Cannot queue the gap notice for sequence numbers lost by the store', { error: String(err) });
    }
    this.link.start();
    this.forwarder.pump();
  }

  /** Batches what was collected since the last interval into the outbox, all at once (on stop; tests). */
  tick(): void {
    this.queued.push(...this.batcher.flush());
    this.appendQueued(Infinity);
    this.emitUpdate(false);
  }

  /**
   * The interval timer: what was collected goes into the outbox a machine's worth of batches per
   * turn of the event loop. Building (signing, sealing) and committing a whole plant's batches in
   * one turn held polling 25–85 ms every interval at 10 machines × 250 points every 50 ms.
   */
  private tickSliced(): void {
    this.queued.push(...this.batcher.flush());
    if (this.queued.length > 0) this.appendSoon();
    else this.emitUpdate(false);
  }

  private appendSoon(): void {
    if (this.appendScheduled) return;
    this.appendScheduled = true;
    setImmediate(() => {
      this.appendScheduled = false;
      // stop() took what was left.
      if (this.queued.length === 0) return;
      this.appendQueued(BATCHES_PER_TURN);
      if (this.queued.length > 0) this.appendSoon();
      else this.emitUpdate(false);
    });
  }

  /** Records up to `max` of the queued batches in the outbox, in the order they were taken. */
  private appendQueued(max: number): void {
    const pending = this.queued.splice(0, max);
    if (pending.length === 0) return;
    const signer = {
      plant: { id: this.plant.id, pseudonym: this.plant.pseudonym },
      signer: () => this.o.store.identity.signing,
      cloudPublicKey: () => currentEntry(this.ring).key,
    };
    try {
      this.outbox.append(pending.map((b) => toOutboxItem(b, signer)));
    } catch (err) {
      this.o.log.log('error', 'Cannot record uplink batches in the outbox', {
        error: err instanceof Error ? err.message : String(err),
        batches: pending.length,
      });
    }
  }

  /**
   * Gives the disk of a drained backlog back, in steps of about 50 ms so polling and the UI
   * never wait long. Only once the backlog is gone (at most one window waiting) and more than
   * RECLAIM_MIN_PAGES are free: a few free pages are simply reused by the next batches.
   */
  private reclaim(): void {
    try {
      if (this.outbox.stats().depth > this.o.config.publish.inflightWindow) return;
      if (!this.reclaiming && this.outbox.freePages() < RECLAIM_MIN_PAGES) return;
      const t = performance.now();
      const left = this.outbox.reclaim(this.reclaimPages);
      const ms = performance.now() - t;
      this.reclaimPages = Math.max(
        64,
        Math.min(16_384, ms < 25 ? this.reclaimPages * 2 : ms > 60 ? Math.floor(this.reclaimPages / 2) : this.reclaimPages),
      );
      if (!this.reclaiming && left > 0) this.o.log.log('info', 'Uplink backlog drained: giving its disk space back', { freePages: left });
      this.reclaiming = left > 0;
    } catch (err) {
      this.o.log.log('warn', 'Outbox disk reclaim failed', { error: String(err) });
    }
  }

  /** Records what is batched so far, says "offline", disconnects; the store stays open (the caller closes it). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.batchTimer) clearInterval(this.batchTimer);
    if (this.reclaimTimer) clearInterval(this.reclaimTimer);
    for (const off of this.offs) off();
    this.offs.length = 0;
    this.tick();
    // What the cloud is about to acknowledge is not published again at the next start.
    if (this.link.status().state === 'online') await this.forwarder.settle(1500);
    await this.link.stop();
    this.forwarder.stop();
    this.handover?.secretKey.fill(0);
    this.handover = null;
    this.o.log.log('info', 'Uplink stopped', { outboxDepth: this.outbox.stats().depth });
  }

  /** The uplink state as the UI, the API and /healthz show it. */
  status(): UplinkStatus {
    const cfg = this.o.config;
    const l = this.link.status();
    const ob = this.outbox.stats();
    const dl = this.downlink.stats();
    const hold = this.forwarder.holding();
    const fwdError = hold
      ? {
          code: hold.kind === 'undelivered' ? 'NO_SUBSCRIBER' : 'BROKER_REFUSED',
          message: `Batches are kept in the outbox: ${hold.detail}.`,
        }
      : null;
    return {
      configured: true,
      state: l.state,
      since: l.since,
      broker: cfg.broker,
      protocolVersion: cfg.protocolVersion,
      tls: {
        enabled: !cfg.insecurePlainTcp,
        servername: cfg.insecurePlainTcp ? null : (cfg.tls.servername ?? null),
        clientCertificate: cfg.tls.cert !== undefined,
        serverFingerprint: l.serverFingerprint,
      },
      plainTcp: cfg.insecurePlainTcp,
      connectedSince: l.connectedSince,
      downSince: l.downSince,
      lastError: l.lastError ?? fwdError,
      plant: { pseudonym: this.plant.pseudonym, signingKeyId: this.o.store.identity.signing.kid, cloudKeyId: this.ring.current },
      outbox: {
        depth: ob.depth,
        bytes: ob.bytes,
        budgetBytes: ob.budgetBytes,
        oldestCreatedAt: ob.oldestCreatedAt,
        full: ob.full,
        fullSince: ob.fullSince,
        fullCause: ob.fullCause,
      },
      lastSeq: ob.lastSeq,
      lastAckSeq: ob.lastAckSeq,
      inflight: l.inflight,
      published: this.forwarder.published,
      acknowledged: this.forwarder.acknowledged,
      drops: ob.drops,
      downlink: { accepted: dl.accepted, refused: dl.refused, lastRefusal: dl.lastRefusal },
      delivery: this.delivery(),
      downBannerAfterS: cfg.downBannerAfterS,
      ts: this.clock.now(),
    };
  }

  /** What /healthz carries. */
  health(): UplinkHealth {
    const ob = this.outbox.stats();
    return {
      state: this.link.status().state,
      lastAckSeq: ob.lastAckSeq,
      outboxDepth: ob.depth,
      delivery: this.delivery().state,
      recording: !ob.full,
    };
  }

  /** Whether what is published reaches the cloud: held by the broker, waiting for the cloud's acknowledgement, or ok. */
  delivery(): UplinkStatus['delivery'] {
    const cfg = this.o.config;
    const hold = this.forwarder.holding();
    const w = this.forwarder.windowStatus();
    const base = {
      acknowledgement: cfg.publish.acknowledgement,
      outstanding: w.outstanding,
      window: cfg.publish.acknowledgement === 'cloud' ? w.window : cfg.publish.inflightWindow,
      cloudHigh: this.forwarder.cloudHigh,
      cloudAhead: this.forwarder.cloudAhead,
      lastCloudAckAt: w.lastAckAt,
      undelivered: this.forwarder.undelivered,
      refused: this.forwarder.refusedByBroker,
    };
    if (hold) return { ...base, state: 'held', since: hold.since, detail: hold.detail, retryAt: hold.until };
    const online = this.link.status().state === 'online';
    if (online && w.waitingSince !== null) {
      const oldest = w.oldest ? ` (the oldest, sequence ${w.oldest.seq}, since ${new Date(w.oldest.since).toISOString()})` : '';
      return {
        ...base,
        state: 'waiting',
        since: w.waitingSince,
        detail: `the cloud has not acknowledged the batches published${oldest}: they stay in the outbox and are published again`,
        retryAt: null,
      };
    }
    return { ...base, state: 'ok', since: null, detail: null, retryAt: null };
  }

  /**
   * Queues recommendation reports (src-main/recommendations/reports.ts) on `pc/v1/<plant>/up/reco`,
   * module health events (src-main/modules/events.ts, `kind` health) on `pc/v1/<plant>/up/health`,
   * or signed audit heads (src-main/audit/witness.ts, `kind` audit) on `pc/v1/<plant>/up/audit`:
   * each sealed by `seal` with the plant's signing key and the cloud's current key, numbered like
   * a batch, in one outbox transaction with `within` (the state change it reports).
   */
  queueReports(
    reports: readonly { machine: string; at: number; seal(keys: ReportKeys, seq: number): Uint8Array }[],
    within?: () => void,
    kind: 'reco' | 'health' | 'audit' = 'reco',
  ): { seqs: number[]; refused: number } {
    const keys = (): ReportKeys => ({
      plant: this.o.store.identity.signing,
      cloudBox: { kid: this.ring.current, publicKey: currentEntry(this.ring).key },
    });
    const items = reports.map((r) => ({
      kind,
      machine: r.machine,
      from: r.at,
      to: r.at,
      build: (seq: number) => Buffer.from(r.seal(keys(), seq)),
    }));
    const done = this.outbox.append(items, within);
    return { seqs: done.seqs, refused: done.refused };
  }

  /** Machine id → pseudonym, for the "What leaves this plant" page. */
  pseudonyms(): Map<string, string> {
    return new Map(this.plans.map((p) => [p.id, p.pseudonym]));
  }

  /** Calls `handler` with the status on every state change and about once a second; returns the unsubscribe. */
  onUpdate(handler: (s: UplinkStatus) => void): () => void {
    this.updateHandlers.add(handler);
    return () => void this.updateHandlers.delete(handler);
  }

  private emitUpdate(force: boolean): void {
    if (this.updateHandlers.size === 0) return;
    const now = this.clock.now();
    if (!force && now - this.lastUpdateAt < 900) return;
    this.lastUpdateAt = now;
    const s = this.status();
    for (const h of [...this.updateHandlers]) {
      try {
        h(s);
      } catch (err) {
        this.o.log.log('warn', 'An uplink.update handler threw', { error: String(err) });
      }
    }
  }
}
