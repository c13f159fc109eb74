/**
 * The demo plant's uplink, so `npm start` publishes real sealed batches with no setup: an
 * embedded aedes broker with TLS on loopback, and the supplier's side generated into
 * `<dataDir>/demo-cloud/` once (docs/uplink.md §15):
 *
 *   cloud-keys.*.json, supplier-keys.*.json, provisioning.json   `supplier-cloud keygen --plant-id demo-plant`
 *   ca.crt, server.crt, server.key                                the broker's TLS (openssl, first start)
 *   broker.json    (0600)  broker URL, CA file, MQTT protocol version, plant and cloud credentials
 *   plant-keys.json        the plant's public keys as `plant-console keys show --json` prints them
 *   receiver.json, cloud.db  the in-process supplier cloud (demo-cloud.ts), which also proposes
 *                            tuning recommendations (PLANT_CONSOLE_DEMO_RECO* variables, below)
 *
 * Node cannot make X.509 certificates by itself, so the certificates come from `openssl`
 * (execFile, no shell). Without openssl the demo runs without an uplink and says why.
 * aedes speaks MQTT 3.1.1 only: the demo's clients use protocol version 4.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTlsServer, type Server } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../core/log';
import { plantTopics, randomBytes, toHex } from '../protocol';
import { writeFileAtomic } from '../store/files';
import type { PublicKeyInfo } from '../store/identity';
import { DEMO_RECO_DEFAULTS, startDemoCloud, type DemoCloud, type DemoRecoOptions } from './demo-cloud';
import { readProvisioning } from './provisioning';

const run = promisify(execFile);
export const DEMO_PLANT_ID = 'demo-plant';
const OPENSSL = ['/usr/bin/openssl', '/usr/local/bin/openssl', '/opt/homebrew/bin/openssl'];

export interface DemoBrokerFile {
  url: string;
  ca: string;
  servername: string;
  protocolVersion: 4;
  plant: { username: string; password: string; pseudonym: string };
  cloud: { username: string; password: string };
}

/** One of the plant's signing keys, public half. */
export interface DemoSigningKey {
  keyId: string;
  publicKey: Buffer;
}

/** The running demo uplink: the config section for the plant, its password, and the broker. */
export interface DemoUplink {
  dir: string;
  uplink: Record<string, unknown>;
  password: string;
  /**
   * Writes plant-keys.json once the store (and so the plant identity) is open, unless it already
   * names one of `signingKeys` (every signing key the store ever had, oldest first): it stands for
   * what the supplier registered, and a rotation reaches the cloud as a signed announcement instead.
   */
  writePlantKeys(dataDir: string, keys: PublicKeyInfo[], signingKeys?: DemoSigningKey[]): void;
  /** Starts the in-process supplier cloud (after writePlantKeys, before the uplink publishes). */
  startCloud(): Promise<DemoCloud | null>;
  /** The in-process supplier cloud once started (its recommendations and the plant's reports). */
  cloud(): DemoCloud | null;
  stop(): Promise<void>;
}

async function makeCertificates(dir: string): Promise<void> {
  const openssl = OPENSSL.find((p) => existsSync(p)) ?? 'openssl';
  const o = (args: string[]) => run(openssl, args, { cwd: dir, timeout: 30_000 });
  await o(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  await o([
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-sha256',
    '-days',
    '3650',
    '-subj',
    '/CN=Plant Console demo broker CA',
    '-out',
    'ca.crt',
  ]);
  await o(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key']);
  await o(['req', '-new', '-key', 'server.key', '-subj', '/CN=localhost', '-out', 'server.csr']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await o([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '3650',
    '-sha256',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  ]);
  // Nothing needs the CA key after signing: without it nobody can mint another certificate this demo trusts.
  for (const f of ['ca.key', 'server.csr', 'san.ext', 'ca.srl']) rmSync(join(dir, f), { force: true });
}

interface BrokerSecrets {
  plant: { username: string; password: string };
  cloud: { username: string; password: string };
}

function secrets(dir: string): BrokerSecrets {
  const file = join(dir, 'broker.json');
  if (existsSync(file)) {
    const b = JSON.parse(readFileSync(file, 'utf8')) as DemoBrokerFile;
    return {
      plant: { username: b.plant.username, password: b.plant.password },
      cloud: { username: b.cloud.username, password: b.cloud.password },
    };
  }
  return {
    plant: { username: 'demo-plant', password: toHex(randomBytes(16)) },
    cloud: { username: 'demo-cloud', password: toHex(randomBytes(16)) },
  };
}

/**
 * The demo cloud's recommendation settings from the environment (tests shorten them):
 * PLANT_CONSOLE_DEMO_RECO=off turns the rule off; PLANT_CONSOLE_DEMO_RECO_AFTER_S (default 60) is
 * the delay before the first proposal; PLANT_CONSOLE_DEMO_RECO_WINDOW_S (default 120) the
 * observation window the recommendations ask for.
 */
export function demoRecoOptions(env: Record<string, string | undefined> = process.env): DemoRecoOptions | null {
  if (env.PLANT_CONSOLE_DEMO_RECO === 'off') return null;
  const seconds = (v: string | undefined, min: number, max: number): number | undefined => {
    const n = v !== undefined && /^\d+$/.test(v) ? Number(v) : NaN;
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  };
  const after = seconds(env.PLANT_CONSOLE_DEMO_RECO_AFTER_S, 0, 86_400);
  const windowS = seconds(env.PLANT_CONSOLE_DEMO_RECO_WINDOW_S, 10, 7 * 86_400);
  return {
    ...DEMO_RECO_DEFAULTS,
    ...(after !== undefined ? { firstAfterMs: after * 1000 } : {}),
    rule: { ...DEMO_RECO_DEFAULTS.rule, ...(windowS !== undefined ? { windowS } : {}) },
  };
}

/** Prepares `<dataDir>/demo-cloud/` (first start) and starts the embedded TLS broker on a loopback port. */
export async function startDemoUplink(opts: {
  dataDir: string;
  log: Logger;
  host?: string;
  /** The broker's TCP port (default 0: a free one). */
  port?: number;
  /** The demo cloud's tuning rule (default: from the environment, demoRecoOptions). */
  reco?: DemoRecoOptions | null;
}): Promise<DemoUplink | null> {
  const dir = join(opts.dataDir, 'demo-cloud');
  const host = opts.host ?? '127.0.0.1';
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!existsSync(join(dir, 'provisioning.json'))) {
      const { generateSupplierKeys } = await import('../../supplier-cloud/keygen');
      generateSupplierKeys({ dir, plantId: DEMO_PLANT_ID, force: true });
      opts.log.log('info', 'SIMULATED demo: generated the demo supplier cloud keys', { dir });
    }
    if (!existsSync(join(dir, 'server.crt')) || !existsSync(join(dir, 'server.key'))) await makeCertificates(dir);
  } catch (err) {
    opts.log.log('warn', 'SIMULATED demo: cannot prepare the demo uplink (it needs openssl); the demo runs without one', {
      error: err instanceof Error ? err.message : String(err),
    });
    return null;
  }
  const { provisioning } = readProvisioning(join(dir, 'provisioning.json'));
  const pseudonym = provisioning.plant?.pseudonym ?? '';
  const topics = plantTopics(pseudonym);
  const creds = secrets(dir);

  const { Aedes } = await import('aedes');
  const users = new WeakMap<object, string>();
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const ok =
        (username === creds.plant.username && password?.toString() === creds.plant.password) ||
        (username === creds.cloud.username && password?.toString() === creds.cloud.password);
      if (ok && username) users.set(client, username);
      done(ok ? null : Object.assign(new Error('bad username or password'), { returnCode: 4 }), ok);
    },
    // The broker's ACL: the plant publishes only under its prefix and reads only its downlink.
    authorizePublish: (client, packet, cb) => {
      const user = client ? users.get(client) : undefined;
      const t = packet.topic;
      if (user === creds.plant.username && (t.startsWith(topics.publishPrefix) || t === topics.state)) return cb(null);
      if (user === creds.cloud.username && /^pc\/v1\/[a-z2-7]{16}\/down$/.test(t)) return cb(null);
      cb(new Error(`${user ?? 'anonymous'} may not publish to ${t}`));
    },
    authorizeSubscribe: (client, sub, cb) => {
      const user = users.get(client);
      const t = sub.topic.replace(/^\$share\/[^/]+\//, '');
      if (user === creds.plant.username && t === topics.down) return cb(null, sub);
      if (user === creds.cloud.username && t.startsWith('pc/v1/')) return cb(null, sub);
      cb(new Error(`${user ?? 'anonymous'} may not subscribe to ${sub.topic}`), null);
    },
  });
  const sockets = new Set<{ destroy(): void }>();
  const server: Server = createTlsServer(
    { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) },
    (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      broker.handle(socket);
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const url = `mqtts://${host}:${port}`;
  const file: DemoBrokerFile = {
    url,
    ca: join(dir, 'ca.crt'),
    servername: 'localhost',
    protocolVersion: 4,
    plant: { ...creds.plant, pseudonym },
    cloud: creds.cloud,
  };
  writeFileAtomic(join(dir, 'broker.json'), JSON.stringify(file, null, 2) + '\n', { noClobber: false });
  opts.log.log('info', 'SIMULATED demo: embedded MQTT broker (aedes, TLS) listening', { url, plant: pseudonym });
  let cloud: DemoCloud | null = null;
  let allSigningKeys: DemoSigningKey[] = [];
  return {
    dir,
    password: creds.plant.password,
    uplink: {
      broker: url,
      protocolVersion: 4,
      tls: { ca: join(dir, 'ca.crt'), servername: 'localhost' },
      username: creds.plant.username,
      provisioning: join(dir, 'provisioning.json'),
      backoff: { initialDelayMs: 500, maxDelayMs: 10_000, randomisationFactor: 0.3 },
      downBannerAfterS: 15,
    },
    writePlantKeys(dataDir, keys, signingKeys = keys.filter((k) => k.alg === 'ed25519')) {
      allSigningKeys = signingKeys;
      const signingKeyIds = signingKeys.map((k) => k.keyId);
      const target = join(dir, 'plant-keys.json');
      if (existsSync(target)) {
        try {
          const doc = JSON.parse(readFileSync(target, 'utf8')) as { keys?: { alg?: unknown; keyId?: unknown }[] };
          const kids = (doc.keys ?? []).filter((k) => k.alg === 'ed25519').map((k) => k.keyId);
          if (kids.some((k) => typeof k === 'string' && signingKeyIds.includes(k))) return;
        } catch {
          // Unreadable: written again below.
        }
      }
      const report = {
        dataDir,
        demo: true,
        keys: keys.map((k) => ({
          use: k.use,
          alg: k.alg,
          keyId: k.keyId,
          fingerprint: k.fingerprint,
          publicKey: k.publicKey.toString('base64'),
          publicKeyHex: k.publicKey.toString('hex'),
          createdAt: new Date(k.createdAt).toISOString(),
        })),
      };
      writeFileAtomic(target, JSON.stringify(report, null, 2) + '\n', { noClobber: false });
    },
    async startCloud() {
      const reco = opts.reco === undefined ? demoRecoOptions() : opts.reco;
      cloud ??= await startDemoCloud({ dir, broker: file, log: opts.log, signingKeys: allSigningKeys, reco });
      return cloud;
    },
    cloud: () => cloud,
    async stop() {
      await cloud?.stop().catch((err: unknown) => opts.log.log('warn', 'Demo supplier cloud did not stop cleanly', { error: String(err) }));
      await new Promise<void>((r) => broker.close(() => r()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
