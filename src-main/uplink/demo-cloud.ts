/**
 * The demo plant's supplier cloud, in process: the reference receiver (supplier-cloud/) on the
 * embedded broker, configured from `<dataDir>/demo-cloud/`, storing into its own
 * `demo-cloud/cloud.db`, so `npm start` shows the whole loop — sealed at origin, verified and
 * decrypted on the other side — with no setup. It also writes `demo-cloud/receiver.json` for a
 * person to run a second receiver by hand (supplier-cloud/README.md).
 *
 * aedes speaks MQTT 3.1.1 only: no shared subscription, so every receiver gets every message.
 * The by-hand one therefore stores into a database of its own (sharing cloud.db would make one
 * of the two judge each batch a duplicate), and is given every signing key the plant has had:
 * started later, it never sees the announcement of a rotation. The in-process one knows the
 * plant by plant-keys.json (its first keys, as registered) and learns rotations as the real
 * cloud does, from the announcement signed by the previous key.
 *
 * It also plays the supplier's engineers: the reference tuning rule (supplier-cloud/rules.ts)
 * watches the sealed data it receives and sends a signed, sealed recommendation, at most one open
 * per machine, the first about a minute after start; the plant's reports on it are stored and
 * exposed (`recommendations()`, `reports()`) so tests can assert on them.
 */
import { join } from 'node:path';
import type { ReceiverConfigInput } from '../../supplier-cloud/config';
import type { ReceiverEvent } from '../../supplier-cloud/events';
import type { Proposer } from '../../supplier-cloud/proposer';
import type { Receiver, ReceiverStats } from '../../supplier-cloud/receiver';
import type { SentRecommendation, StoredReport } from '../../supplier-cloud/reco-store';
import type { RuleOptions } from '../../supplier-cloud/rules';
import type { Logger } from '../core/log';
import { wipe } from '../protocol';
import { writeFileAtomic } from '../store/files';

/** The variable `receiver.json` reads the broker password from (never written into the file). */
export const DEMO_CLOUD_PASSWORD_ENV = 'SUPPLIER_CLOUD_MQTT_PASSWORD';
const SUMMARY_EVERY_MS = 60_000;

/** What the demo cloud needs of the embedded broker (broker.json). */
export interface DemoCloudBroker {
  url: string;
  servername: string;
  cloud: { username: string; password: string };
}

/** How the demo cloud proposes recommendations (null: it does not). */
export interface DemoRecoOptions {
  /** Nothing is proposed before this long after start (ms). */
  firstAfterMs: number;
  /** Nothing more for a machine this long after the last one (ms). */
  cooldownMs: number;
  rule: Partial<RuleOptions>;
}

/** The demo's defaults: the first recommendation about a minute after start, a 2-minute observation window. */
export const DEMO_RECO_DEFAULTS: DemoRecoOptions = { firstAfterMs: 60_000, cooldownMs: 30 * 60_000, rule: { windowS: 120 } };

/** The running demo cloud. */
export interface DemoCloud {
  stats(): ReceiverStats;
  /** Recommendations this cloud sent (by its rule, or by `supplier-cloud recommend --demo-data-dir`). */
  recommendations(): SentRecommendation[];
  /** The plant's reports on them, oldest first. */
  reports(): StoredReport[];
  /** Waits (briefly) for messages still on their way, then disconnects and closes cloud.db. */
  stop(): Promise<void>;
}

type Registry = ReceiverConfigInput['plants'][number];

/** How long the demo cloud keeps what it received (it grows about 33 MB an hour): PLANT_CONSOLE_DEMO_CLOUD_RETENTION_HOURS, default 6. */
export function demoCloudRetentionDays(env: Record<string, string | undefined> = process.env): number {
  const h = Number(env.PLANT_CONSOLE_DEMO_CLOUD_RETENTION_HOURS ?? '6');
  return (Number.isFinite(h) && h > 0 ? h : 6) / 24;
}

/**
 * The receiver configuration for `<dir>` (paths relative to it), storing into `database` under
 * the stable client id `clientId`. `acknowledge: false` for a receiver that keeps a copy beside
 * the in-process one (aedes has no shared subscription): the plant takes the in-process one's word.
 */
export function demoReceiverConfig(
  broker: DemoCloudBroker,
  database: string,
  plant: Registry,
  clientId = 'demo-cloud',
  extra: Partial<ReceiverConfigInput> = {},
): ReceiverConfigInput {
  return {
    broker: {
      url: broker.url,
      ca: 'ca.crt',
      username: broker.cloud.username,
      passwordEnv: DEMO_CLOUD_PASSWORD_ENV,
      servername: broker.servername,
      protocolVersion: 4,
      clientId,
    },
    cloudKeys: 'cloud-keys.secret.json',
    database,
    group: 'demo-cloud',
    plants: [plant],
    ...extra,
  };
}

function summary(s: ReceiverStats): Record<string, unknown> {
  return {
    accepted: s.accepted,
    sealed: s.acceptedSealed,
    plain: s.acceptedPlain,
    refused: s.refused,
    gaps: s.gaps,
    gapNotices: s.gapNotices,
  };
}

/** Starts the in-process receiver on the demo broker; null (with a warning) when it cannot. */
export async function startDemoCloud(opts: {
  dir: string;
  broker: DemoCloudBroker;
  log: Logger;
  /** The plant's signing keys, oldest first (the last is current). */
  signingKeys: readonly { keyId: string; publicKey: Buffer }[];
  /** The tuning rule's settings; null turns it off (default DEMO_RECO_DEFAULTS). */
  reco?: DemoRecoOptions | null;
}): Promise<DemoCloud | null> {
  const { dir, broker, log } = opts;
  const everyKey: Registry = {
    provisioning: 'provisioning.json',
    signingKeys: opts.signingKeys.map((k) => ({ publicKey: k.publicKey.toString('hex'), keyId: k.keyId })),
  };
  try {
    const byHand = demoReceiverConfig(
      broker,
      'receiver-by-hand.db',
      opts.signingKeys.length ? everyKey : { provisioning: 'provisioning.json', keysShow: 'plant-keys.json' },
      'demo-cloud-by-hand',
      { acknowledge: false },
    );
    writeFileAtomic(join(dir, 'receiver.json'), JSON.stringify(byHand, null, 2) + '\n', { noClobber: false });
  } catch (err) {
    log.log('warn', 'SIMULATED demo: cannot write demo-cloud/receiver.json', { error: String(err) });
  }
  let firstSeen = false;
  let firstRefusal = false;
  const onEvent = (e: ReceiverEvent): void => {
    switch (e.event) {
      case 'accept':
        if (!firstSeen) {
          firstSeen = true;
          log.log('info', `Demo supplier cloud: received and verified ${e.kind} batch seq ${e.seq} from plant ${e.plant}`, {
            machine: e.machine,
            points: e.points,
            samples: e.samples,
            signingKey: e.signingKid,
          });
        }
        return;
      case 'refuse':
        if (!firstRefusal) {
          firstRefusal = true;
          log.log('warn', `Demo supplier cloud: refused a message (${e.reason}): ${e.text}`, { topic: e.topic, detail: e.detail });
        }
        return;
      case 'plant-keys':
        log.log('info', `Demo supplier cloud: applied plant ${e.plant}'s key announcement, verified with its previous key ${e.previous}`, {
          current: e.current,
          graceUntil: new Date(e.graceUntil).toISOString(),
        });
        return;
      case 'gap-notice':
        log.log('warn', `Demo supplier cloud: gap notice from plant ${e.plant}`, {
          seq: e.seq,
          dropped: e.dropped.batches,
          notRecorded: e.notRecorded,
        });
        return;
      case 'reco-sent':
        log.log('info', `Demo supplier cloud: sent recommendation ${e.recommendation} for machine ${e.machine}: ${e.changes}`, {
          topic: e.topic,
        });
        return;
      case 'reco-report':
        if (!e.repeated)
          log.log('info', `Demo supplier cloud: ${e.kind} report on ${e.recommendation} (machine ${e.machine}): ${e.summary}`);
        return;
      case 'error':
        log.log('warn', `Demo supplier cloud: ${e.message}`);
        return;
      default:
        return;
    }
  };
  let receiver: Receiver;
  let proposer: Proposer | null = null;
  try {
    const { startReceiver } = await import('../../supplier-cloud/receiver');
    receiver = await startReceiver(
      demoReceiverConfig(broker, 'cloud.db', { provisioning: 'provisioning.json', keysShow: 'plant-keys.json' }, 'demo-cloud', {
        retentionDays: demoCloudRetentionDays(),
      }),
      {
        baseDir: dir,
        password: broker.cloud.password,
        name: 'demo-cloud',
        onEvent,
        onBatch: (b) => proposer?.observe(b),
      },
    );
  } catch (err) {
    log.log('warn', 'SIMULATED demo: the demo supplier cloud did not start; batches still go to the embedded broker', {
      error: err instanceof Error ? err.message : String(err),
    });
    return null;
  }
  log.log('info', 'SIMULATED demo: supplier cloud receiving in process', { database: join(dir, 'cloud.db') });
  const reco = opts.reco === undefined ? DEMO_RECO_DEFAULTS : opts.reco;
  let signer: { secretKey: Buffer } | null = null;
  if (reco) {
    try {
      const [{ createProposer }, { KEY_FILES, readSupplierSigner }] = await Promise.all([
        import('../../supplier-cloud/proposer'),
        import('../../supplier-cloud/keyfiles'),
      ]);
      const s = readSupplierSigner(join(dir, KEY_FILES.supplierSecret));
      signer = s;
      const { store, publish, config } = receiver;
      proposer = createProposer({ store, plants: config.plants, signer: s, publish, receiver: receiver.name, onEvent, ...reco });
      log.log('info', 'SIMULATED demo: the supplier cloud proposes tuning recommendations from the sealed data', {
        firstAfterS: reco.firstAfterMs / 1000,
        windowS: reco.rule.windowS,
      });
    } catch (err) {
      log.log('warn', 'SIMULATED demo: the supplier cloud will not propose recommendations', { error: (err as Error).message });
    }
  }

  let reported = -1;
  const timer = setInterval(() => {
    const s = receiver.stats();
    if (s.accepted + s.refused === reported) return;
    reported = s.accepted + s.refused;
    log.log('info', `Demo supplier cloud: ${s.accepted} batches accepted, ${s.refused} refused, ${s.gaps} gaps since start`, summary(s));
  }, SUMMARY_EVERY_MS);
  timer.unref?.();
  void receiver.closed.then(({ error }) => {
    clearInterval(timer);
    if (error) log.log('warn', 'Demo supplier cloud stopped on an error', { error });
  });

  let stopped = false;
  return {
    stats: () => receiver.stats(),
    recommendations: () => (stopped ? [] : receiver.store.reco.sent()),
    reports: () => (stopped ? [] : receiver.store.reco.reports()),
    async stop() {
      clearInterval(timer);
      await proposer?.idle();
      // Batches the broker took just before the plant stopped may still be on their way to us.
      let last = -1;
      for (let i = 0; i < 20 && receiver.stats().messages !== last; i++) {
        last = receiver.stats().messages;
        await new Promise((r) => setTimeout(r, 50));
      }
      const final = summary(receiver.stats());
      stopped = true;
      await receiver.stop();
      wipe(signer?.secretKey);
      log.log('info', 'Demo supplier cloud stopped', final);
    },
  };
}
