/**
 * A minimal supplier cloud for uplink tests: subscribes to every plant's uplink, verifies and
 * decrypts each message with the protocol library (openSealed, openPlain, gap and state
 * checks), and keeps per plant what was accepted, in arrival order, and what was refused and
 * why. Sequences are judged as a receiver that remembers every accepted number: a redelivery
 * is a duplicate, a late number that fills a gap is new. Like the reference receiver, it
 * acknowledges what it accepted or held already on each plant's downlink (docs/uplink.md §18).
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  buildAck,
  openAuditHead,
  openPlain,
  openSealed,
  openStateMessage,
  parseTopic,
  type BoxKeyPair,
  type CloudKeyRecord,
  type OpenedSealedBatch,
  type PlainBatch,
  type PlantKeyRecord,
  type Refusal,
} from '../../src-main/protocol';
import { openGapNotice, type GapNotice } from '../../src-main/uplink/gap';

export interface PlantLog {
  /** Accepted sequence numbers in arrival order. */
  accepted: number[];
  duplicates: number;
  refusals: Refusal[];
  sealed: OpenedSealedBatch[];
  plain: PlainBatch[];
  gaps: GapNotice[];
  states: string[];
  /** Records covered by the signed audit heads received. */
  auditHeads: number[];
}

export class TestCloud {
  readonly plants = new Map<string, PlantLog>();
  private readonly seen = new Map<string, Set<number>>();
  private readonly cloudKeys: Map<string, CloudKeyRecord>;
  client: MqttClient | null = null;
  /** Acknowledge to the plants (a cloud that does not: false). */
  acknowledge = true;
  private readonly toAck = new Map<string, Set<number>>();
  private ackTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly plantKeys: ReadonlyMap<string, PlantKeyRecord>,
    cloud: BoxKeyPair[],
  ) {
    this.cloudKeys = new Map(cloud.map((k) => [k.kid, { publicKey: k.publicKey, secretKey: k.secretKey }]));
  }

  log(plant: string): PlantLog {
    let l = this.plants.get(plant);
    if (!l) {
      l = { accepted: [], duplicates: 0, refusals: [], sealed: [], plain: [], gaps: [], states: [], auditHeads: [] };
      this.plants.set(plant, l);
    }
    return l;
  }

  /** Connects (mqtt.js reconnects by itself) and subscribes; resolves once subscribed. */
  async connect(options: IClientOptions): Promise<void> {
    const client = mqtt.connect({ reconnectPeriod: 200, connectTimeout: 5000, ...options });
    this.client = client;
    client.on('message', (topic, payload) => this.handle(topic, payload));
    // mqtt.js resubscribes by itself after a reconnect (clean session, resubscribe on).
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(['pc/v1/+/up/#', 'pc/v1/+/state'], { qos: 1 });
  }

  /** Waits until the client is connected and subscribed again (after a broker restart). */
  async resubscribed(timeoutMs = 10_000): Promise<void> {
    const c = this.client!;
    const until = Date.now() + timeoutMs;
    while (!c.connected && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    if (!c.connected) throw new Error('the test cloud did not reconnect');
    await c.subscribeAsync(['pc/v1/+/up/#', 'pc/v1/+/state'], { qos: 1 });
  }

  async close(): Promise<void> {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    await this.client?.endAsync(true);
  }

  /** Queues an acknowledgement of `seq` to `plant`, sent within 50 ms. */
  private settled(plant: string, seq: number): void {
    if (!this.acknowledge) return;
    let set = this.toAck.get(plant);
    if (!set) this.toAck.set(plant, (set = new Set()));
    set.add(seq);
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = null;
      for (const [p, seqs] of this.toAck) {
        const sorted = [...seqs].sort((a, b) => a - b);
        const seqRanges: [number, number][] = [];
        for (const x of sorted) {
          const last = seqRanges[seqRanges.length - 1];
          if (last && x === last[1] + 1) last[1] = x;
          else seqRanges.push([x, x]);
        }
        const high = Math.max(...(this.seen.get(p) ?? [0]));
        this.client?.publish(`pc/v1/${p}/down`, buildAck({ plant: p, seqs: seqRanges, high, issued: Date.now() }), { qos: 1 });
      }
      this.toAck.clear();
    }, 50);
  }

  private handle(topic: string, payload: Buffer): void {
    const t = parseTopic(topic);
    const plant = t?.plant ?? topic.split('/')[2] ?? '?';
    const log = this.log(plant);
    const seen = this.seen.get(plant) ?? new Set<number>();
    this.seen.set(plant, seen);
    const check = {
      lastSequence: () => null,
      classifySequence: (_p: string, seq: bigint) => (seen.has(Number(seq)) ? ('duplicate' as const) : ('new' as const)),
    };
    const now = Date.now();
    const accept = (seq: number): void => {
      seen.add(seq);
      log.accepted.push(seq);
      this.settled(plant, seq);
    };
    const refuse = (r: Refusal, seq?: number): void => {
      if (r.reason === 'duplicate_sequence') {
        log.duplicates++;
        if (seq !== undefined) this.settled(plant, seq);
      } else log.refusals.push(r);
    };
    if (topic.endsWith('/state')) {
      const s = openStateMessage(payload, { plantPublicKeys: this.plantKeys, now, topicPlant: plant });
      if (s.ok) log.states.push(s.state.state);
      else refuse(s);
      return;
    }
    if (topic.endsWith('/up/gap')) {
      const g = openGapNotice(payload, { plantPublicKeys: this.plantKeys, now, topicPlant: plant });
      if (!g.ok) return refuse(g);
      if (seen.has(g.notice.seq)) return refuse({ ok: false, reason: 'duplicate_sequence', detail: '' }, g.notice.seq);
      log.gaps.push(g.notice);
      return accept(g.notice.seq);
    }
    if (t?.kind === 'sealed') {
      const r = openSealed(payload, {
        plantPublicKeys: this.plantKeys,
        cloudSecretKeys: this.cloudKeys,
        now,
        topic: { plant: t.plant, ...(t.machine ? { machine: t.machine } : {}) },
        ...check,
      });
      if (!r.ok) return refuse(r, r.header ? Number(r.header.seq) : undefined);
      log.sealed.push(r);
      return accept(Number(r.header.seq));
    }
    if (t?.kind === 'plain') {
      const r = openPlain(payload, {
        plantPublicKeys: this.plantKeys,
        now,
        topic: { plant: t.plant, ...(t.machine ? { machine: t.machine } : {}) },
        ...check,
      });
      if (!r.ok) return refuse(r, plainSeq(payload));
      log.plain.push(r.batch);
      return accept(r.batch.seq);
    }
    if (t?.kind === 'audit') {
      // A signed audit head (docs/uplink.md §17) takes one of the plant's sequence numbers like a batch.
      const r = openAuditHead(payload, {
        plant,
        plantKeys: (kid) => {
          const k = this.plantKeys.get(kid);
          return k && k.plant === plant ? k.publicKey : null;
        },
        cloudBox: (kid) => this.cloudKeys.get(kid) ?? null,
      });
      if (!r.ok) return refuse({ ok: false, reason: 'malformed', detail: `audit head: ${r.message}` });
      if (seen.has(r.body.seq)) return refuse({ ok: false, reason: 'duplicate_sequence', detail: '' }, r.body.seq);
      log.auditHeads.push(r.body.head.seq);
      return accept(r.body.seq);
    }
    log.refusals.push({ ok: false, reason: 'malformed', detail: `unexpected topic ${topic}` });
  }
}

/** The sequence a plain batch claims (for acknowledging a duplicate). */
function plainSeq(payload: Buffer): number | undefined {
  try {
    const seq = (JSON.parse(payload.toString('utf8')) as { seq?: unknown }).seq;
    return typeof seq === 'number' ? seq : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `ok` every 50 ms until it holds or `timeoutMs` passes (bounded). */
export async function waitUntil(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
