/**
 * The protected uplink against a real mosquitto (TLS, passwords, ACL): device agents → core →
 * batcher → encrypted outbox → broker → a test cloud that verifies and decrypts; a capture of
 * every published byte holds nothing `local`; a broker outage and a SIGKILL lose nothing and
 * duplicate nothing the cloud cannot tell; the ACL confines a plant to its prefix; a broker
 * certificate from another CA is refused with a clear error.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../device-agent/agent';
import { resolveConfig } from '../../src-main/config/load';
import type { PlantConfig } from '../../src-main/config/schema';
import { silentLogger } from '../../src-main/core/log';
import { PlantCore } from '../../src-main/core/plant';
import {
  announceCloudKey,
  announcementJson,
  boxKeyPair,
  plantPseudonym,
  plantTopics,
  randomBytes,
  signingKeyPair,
  type PlantKeyRecord,
} from '../../src-main/protocol';
import { openPlantStore, type PlantStore } from '../../src-main/store/open';
import { makeProvisioning, writeProvisioning } from '../../src-main/uplink/provisioning';
import { UplinkService } from '../../src-main/uplink/service';
import { brokerAvailable, disposeBroker, startBroker, type Broker, type BrokerUser } from '../helpers/mosquitto';
import { openTestPlantStore } from '../helpers/plant-store';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { TestCloud, waitUntil } from '../helpers/uplink-cloud';
import { startUplinkRunner } from '../helpers/uplink-process';
import { describeNeeding } from '../helpers/needs-package';

const PASS = 'uplink integration passphrase';
const dir = mkdtempSync(join(tmpdir(), 'pc-uplink-'));
const cloudKey = boxKeyPair();
/** The key the supplier rotates plant A to during the run (cloud-key announcement on its downlink). */
const nextCloudKey = boxKeyPair();
const supplier = signingKeyPair();
const pw = () => randomBytes(12).toString('hex');

interface TestPlant {
  id: string;
  pseudonymKey: Buffer;
  pseudonym: string;
  user: BrokerUser;
  provisioning: string;
}

function testPlant(name: string, id: string): TestPlant {
  const pseudonymKey = randomBytes(32);
  const pseudonym = plantPseudonym(pseudonymKey, id);
  const provisioning = join(dir, `${name}-provisioning.json`);
  writeProvisioning(
    provisioning,
    makeProvisioning({ plantId: id, pseudonymKey, cloudPublicKeys: [cloudKey.publicKey], supplierPublicKeys: [supplier.publicKey] }),
  );
  const t = plantTopics(pseudonym);
  return {
    id,
    pseudonymKey,
    pseudonym,
    provisioning,
    user: { username: name, password: pw(), acl: [`topic write ${t.publishPrefix}#`, `topic write ${t.state}`, `topic read ${t.down}`] },
  };
}

const A = testPlant('plant-a', 'acme-lyon-integration-plant-a');
const B = testPlant('plant-b', 'acme-lyon-integration-plant-b');
/** A plant the broker has no ACL entry for: it borrows plant A's credentials. */
const C = testPlant('plant-c', 'acme-lyon-integration-plant-c');
const CLOUD: BrokerUser = {
  username: 'cloud',
  password: pw(),
  acl: ['topic read pc/v1/+/up/#', 'topic read pc/v1/+/state', 'topic write pc/v1/+/down'],
};
const CAPTURE: BrokerUser = { username: 'capture', password: pw(), acl: ['topic read #'] };

const plantKeys = new Map<string, PlantKeyRecord>();
let broker: Broker | undefined;
let cloud: TestCloud;
let capture: MqttClient;
const captured: Buffer[] = [];
let agents: Agent[] = [];
let caFile = '';
let otherCaFile = '';

function uplinkSection(p: TestPlant, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    broker: `mqtts://127.0.0.1:${broker!.port}`,
    tls: { ca: caFile, servername: 'localhost' },
    username: p.user.username,
    passwordEnv: 'UPLINK_TEST_PASSWORD',
    provisioning: p.provisioning,
    batchIntervalMs: 250,
    keepaliveS: 5,
    backoff: { initialDelayMs: 200, maxDelayMs: 1000, randomisationFactor: 0.2 },
    ...over,
  };
}

function plantConfig(name: string, uplink: Record<string, unknown>): PlantConfig {
  return resolveConfig(
    {
      plant: { name: 'Usine Intégration Lyon' },
      devices: agents.map((a, i) => ({
        id: `line-${i}-${a.model}-sn-00471${i}`,
        name: `Ligne ${i} ${a.model.toUpperCase()} Kunde Nordwerk`,
        profile: `builtin:${a.model}`,
        transport: { type: 'tcp', host: '127.0.0.1', port: a.port },
        pollIntervalMs: 100,
      })),
      uplink,
    },
    join(dir, `${name}.json`),
  );
}

function openStore(name: string): Promise<PlantStore> {
  return openTestPlantStore(join(dir, name), PASS);
}

function register(p: TestPlant, store: PlantStore): void {
  plantKeys.set(store.identity.signing.kid, { publicKey: store.identity.signing.publicKey, plant: p.pseudonym, plantId: p.id });
}

/** A core and its uplink over a fresh store named `name`, signing in as plant A's broker user (not started). */
async function consoleOf(
  p: TestPlant,
  name: string,
  uplink: Record<string, unknown>,
): Promise<{ config: PlantConfig; store: PlantStore; core: PlantCore; uplink: UplinkService }> {
  const config = plantConfig(name, uplink);
  const store = await openStore(name);
  register(p, store);
  const core = new PlantCore({ config, log: silentLogger, history: store.history });
  const service = new UplinkService({
    config: config.uplink!,
    configDir: dir,
    devices: config.devices,
    core,
    store,
    env: { UPLINK_TEST_PASSWORD: A.user.password },
    log: silentLogger,
  });
  return { config, store, core, uplink: service };
}

/** Every number from 1 to n accepted exactly once, and accepted in increasing order. */
function expectComplete(accepted: number[], n: number): void {
  expect(new Set(accepted).size).toBe(accepted.length);
  expect([...accepted].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  expect(accepted).toEqual([...accepted].sort((x, y) => x - y));
}

describeNeeding(['mosquitto', 'openssl'], brokerAvailable(), 'uplink against mosquitto (TLS, passwords, ACL)', () => {
  beforeAll(async () => {
    broker = await startBroker([A.user, B.user, CLOUD, CAPTURE]);
    caFile = join(dir, 'ca.crt');
    otherCaFile = join(dir, 'other-ca.crt');
    writeFileSync(caFile, broker.ca);
    writeFileSync(otherCaFile, broker.otherCa);
    const conn = {
      protocol: 'mqtts' as const,
      host: broker.host,
      port: broker.port,
      ca: broker.ca,
      servername: 'localhost',
      rejectUnauthorized: true,
      protocolVersion: 5 as const,
    };
    cloud = new TestCloud(plantKeys, [cloudKey, nextCloudKey]);
    await cloud.connect({ ...conn, username: CLOUD.username, password: CLOUD.password });
    capture = mqtt.connect({ ...conn, username: CAPTURE.username, password: CAPTURE.password, reconnectPeriod: 200 });
    capture.on('message', (topic, payload) => captured.push(Buffer.from(topic), payload));
    await new Promise<void>((r) => capture.once('connect', () => r()));
    await capture.subscribeAsync('#', { qos: 1 });
    agents = [await startAgent({ port: 0, model: 'im250', seed: 3 }), await startAgent({ port: 0, model: 'hp200', seed: 4 })];
  }, 30_000);

  afterAll(async () => {
    await cloud?.close();
    await capture?.endAsync(true);
    await Promise.all(agents.map((a) => a.stop()));
    await disposeBroker(broker);
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers sealed and plain batches the cloud verifies and decrypts; nothing local is ever published; a broker outage loses nothing', async () => {
    const proxy: TcpProxy = await startTcpProxy({ host: broker!.host, port: broker!.port });
    const { config, store, core, uplink } = await consoleOf(A, 'plant-a', uplinkSection(A, { broker: `mqtts://127.0.0.1:${proxy.port}` }));
    try {
      core.start();
      uplink.start();
      const log = cloud.log(A.pseudonym);
      await waitUntil(() => log.sealed.length >= 6 && log.plain.length >= 6, 15_000, 'sealed and plain batches of plant A');
      const status = uplink.status();
      expect(status).toMatchObject({ state: 'online', tls: { enabled: true }, plainTcp: false, lastError: null });
      expect(status.tls.serverFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      expect(uplink.health()).toMatchObject({ state: 'online' });
      expect(log.states).toContain('online');

      // Sealed payloads: the right machine, only sealed points, values as the core read them.
      const machines = new Map(config.devices.map((d) => [d.id, d]));
      for (const b of log.sealed) {
        expect(b.payload.plant.id).toBe(A.id);
        const d = machines.get(b.payload.machine.id)!;
        const sealedIds = d.profileDef.points.filter((p) => p.sensitivity === 'sealed').map((p) => p.id);
        for (const pid of Object.keys(b.payload.points)) expect(sealedIds).toContain(pid);
      }
      const good = log.sealed
        .flatMap((b) => Object.values(b.payload.points).flatMap((s) => s.samples))
        .filter(([, v]) => typeof v === 'number');
      expect(good.length).toBeGreaterThan(20);
      for (const b of log.plain) {
        const d = config.devices.find((x) => uplink.pseudonyms().get(x.id) === b.machine)!;
        const plainIds = d.profileDef.points.filter((p) => p.sensitivity === 'plain').map((p) => p.id);
        for (const pid of Object.keys(b.points)) expect(plainIds).toContain(pid);
      }

      // Downlink: a forged announcement is refused; the supplier's rotates the key sealed to, persisted.
      const down = plantTopics(A.pseudonym).down;
      const forger = signingKeyPair();
      const forged = announcementJson(
        announceCloudKey({
          cloudPublicKey: boxKeyPair().publicKey,
          issued: Date.now(),
          graceUntil: Date.now() + 3_600_000,
          supplier: forger,
        }),
      );
      await cloud.client!.publishAsync(down, forged, { qos: 1 });
      await waitUntil(() => uplink.status().downlink.refused >= 1, 10_000, 'the forged announcement to be refused');
      expect(uplink.status().downlink.lastRefusal).toMatch(/unknown key id/);
      const genuine = announcementJson(
        announceCloudKey({ cloudPublicKey: nextCloudKey.publicKey, issued: Date.now(), graceUntil: Date.now() + 3_600_000, supplier }),
      );
      await cloud.client!.publishAsync(down, genuine, { qos: 1, retain: true });
      await waitUntil(() => uplink.status().plant?.cloudKeyId === nextCloudKey.kid, 10_000, 'the cloud key rotation');
      const rotatedAt = log.sealed.length;
      await waitUntil(
        () => log.sealed.slice(rotatedAt).some((b) => b.header.encryptionKid === nextCloudKey.kid),
        10_000,
        'a batch sealed to the new cloud key',
      );
      const ring = store.db.prepare("SELECT value FROM meta WHERE key = 'uplink.cloud_ring'").raw().get() as [string];
      expect(JSON.parse(ring[0])).toMatchObject({ current: nextCloudKey.kid });

      // Broker stopped for a while, then started; the plant gets through again only once the cloud listens.
      await proxy.cut();
      await waitUntil(() => uplink.status().state !== 'online', 10_000, 'the uplink to notice the outage');
      // This test broker keeps nothing on disk: what it acknowledged must reach the cloud before it
      // stops, or the test would measure the broker's durability rather than the console's.
      const acked = uplink.status().lastAckSeq ?? 0;
      await waitUntil(
        () => new Set(log.accepted.filter((q) => q <= acked)).size >= acked,
        10_000,
        'the cloud to get every acknowledged batch',
      );
      await broker!.stop();
      const during = uplink.status().outbox.depth;
      await new Promise((r) => setTimeout(r, 2500));
      expect(uplink.status().outbox.depth).toBeGreaterThan(during);
      await broker!.start();
      await cloud.resubscribed();
      await waitUntil(() => capture.connected, 10_000, 'the capture to reconnect');
      await capture.subscribeAsync('#', { qos: 1 });
      await proxy.open();
      await waitUntil(() => uplink.status().state === 'online', 10_000, 'the uplink to reconnect');
      await waitUntil(() => uplink.status().outbox.depth === 0, 15_000, 'the backlog to drain');
      await core.stop();
      await uplink.stop();
      const n = uplink.status().lastSeq;
      await waitUntil(() => new Set(log.accepted).size >= n, 10_000, `all ${n} sequences`);
      expectComplete(log.accepted, n);
      expect(log.refusals).toEqual([]);
      expect(uplink.status().drops).toMatchObject({ droppedPlain: 0, notRecordedSealed: 0 });

      // The capture: nothing local, no identifier and no name in any byte published.
      const local = config.devices.flatMap((d) => {
        const snap = core.snapshot(d.id)!;
        return d.profileDef.points
          .filter((p) => p.sensitivity === 'local')
          .flatMap((p) => [String(snap.values[p.id]?.value ?? ''), `"${p.id}"`, p.name].filter((x) => x.length >= 4));
      });
      expect(local.length).toBeGreaterThan(4);
      const forbidden = [...local, ...config.devices.flatMap((d) => [d.id, d.name]), A.id, config.plant.name];
      const all = Buffer.concat(captured);
      expect(all.length).toBeGreaterThan(10_000);
      for (const f of forbidden) expect(all.includes(Buffer.from(f, 'utf8')), `"${f}" was published`).toBe(false);
    } finally {
      await core.stop();
      await uplink.stop();
      store.close();
      await proxy.close();
    }
  }, 60_000);

  it("records each interval's batches a machine at a time, with the event loop free in between", async () => {
    const { store, core, uplink } = await consoleOf(A, 'plant-a-turns', uplinkSection(A));
    try {
      core.start();
      uplink.start();
      // Two machines, sealed and plain each: 4 batches an interval, at most 2 (one machine) per turn.
      const steps: number[] = [];
      let last = uplink.status().lastSeq;
      await new Promise<void>((resolve) => {
        const turn = (): void => {
          const seq = uplink.status().lastSeq;
          if (seq > last) steps.push(seq - last);
          last = seq;
          if (last >= 12) resolve();
          else setImmediate(turn);
        };
        setImmediate(turn);
      });
      expect(Math.max(...steps)).toBeLessThanOrEqual(2);
    } finally {
      await core.stop();
      await uplink.stop();
      store.close();
    }
  });

  it('a console killed with SIGKILL mid-stream and restarted loses nothing; redeliveries are detected by sequence', async () => {
    const dataDir = join(dir, 'plant-b');
    const pre = await openPlantStore({ dataDir, demo: false, passphrase: PASS, env: {}, prompt: null, log: silentLogger });
    register(B, pre);
    pre.close();
    const configFile = join(dir, 'plant-b.json');
    const cfg = plantConfig('plant-b', uplinkSection(B));
    writeFileSync(
      configFile,
      JSON.stringify({ plant: cfg.plant, devices: cfg.devices.map(({ profileDef: _p, ...d }) => d), uplink: uplinkSection(B) }),
    );
    const env = { PLANT_CONSOLE_PASSPHRASE: PASS, UPLINK_TEST_PASSWORD: B.user.password };
    const log = cloud.log(B.pseudonym);
    const first = await startUplinkRunner(configFile, dataDir, env);
    try {
      await waitUntil(() => log.accepted.length >= 8, 15_000, 'plant B batches');
    } finally {
      await first.kill();
    }
    const killedAfter = Math.max(...log.accepted);
    const second = await startUplinkRunner(configFile, dataDir, env);
    let n = 0;
    try {
      await waitUntil(
        () => {
          const s = second.status();
          if (!s || s.state !== 'online' || s.lastSeq <= killedAfter + 4 || s.depth !== 0) return false;
          n = s.lastAckSeq ?? 0;
          return new Set(log.accepted).size >= n;
        },
        20_000,
        'the restarted console to catch up',
      );
    } finally {
      await second.stop();
    }
    expect(n).toBeGreaterThan(killedAfter);
    const accepted = log.accepted.filter((s) => s <= n);
    expect([...new Set(accepted)].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(new Set(accepted).size).toBe(accepted.length);
    expect(log.refusals).toEqual([]);
    // Batches in flight when the console died came again: the cloud told them apart by sequence.
    console.log(
      `SIGKILL test: ${n} sequences, ${log.duplicates} redeliveries detected as duplicates, killed after seq ${killedAfter} arrived`,
    );
  }, 60_000);

  it('the ACL keeps a plant to its own prefix: publishing under another plant is refused and nothing arrives', async () => {
    const raw = mqtt.connect({
      protocol: 'mqtts',
      host: broker!.host,
      port: broker!.port,
      ca: broker!.ca,
      servername: 'localhost',
      protocolVersion: 5,
      username: A.user.username,
      password: A.user.password,
      reconnectPeriod: 0,
    });
    await new Promise<void>((r) => raw.once('connect', () => r()));
    const spoof = plantTopics(B.pseudonym).plain('aaaaaaaaaaaaaaaa');
    await expect(raw.publishAsync(spoof, 'spoofed', { qos: 1 })).rejects.toThrow(/Not authorized/);
    await raw.endAsync();

    // A console whose provisioning names a plant its credentials do not cover: refused, kept, reported.
    const { store, core, uplink } = await consoleOf(C, 'plant-c', uplinkSection(C));
    try {
      core.start();
      uplink.start();
      // mosquitto refuses either the connection (the last will is outside the ACL) or each publish.
      await waitUntil(
        () => ['BROKER_AUTH', 'BROKER_REFUSED'].includes(uplink.status().lastError?.code ?? '') && uplink.status().outbox.depth > 0,
        10_000,
        'the broker to refuse plant C',
      );
      const s = uplink.status();
      expect(s.lastAckSeq).toBeNull();
      expect(s.outbox.depth).toBeGreaterThan(0);
      expect(s.lastError?.message).toMatch(/ACL/);
    } finally {
      await core.stop();
      await uplink.stop();
      store.close();
    }
    // Neither the spoofed message nor plant C's refused batches reached the cloud.
    expect(cloud.plants.get(B.pseudonym)?.refusals ?? []).toEqual([]);
    expect(cloud.plants.get(C.pseudonym)?.accepted ?? []).toEqual([]);
  }, 30_000);

  it('refuses a broker certificate from another CA with a clear error state', async () => {
    const config = plantConfig('plant-d', uplinkSection(A, { tls: { ca: otherCaFile, servername: 'localhost' } }));
    const store = await openStore('plant-d');
    const uplink = new UplinkService({
      config: config.uplink!,
      configDir: dir,
      devices: config.devices,
      core: { onPoll: () => () => undefined },
      store,
      env: { UPLINK_TEST_PASSWORD: A.user.password },
      log: silentLogger,
    });
    try {
      uplink.start();
      await waitUntil(() => uplink.status().lastError !== null, 10_000, 'the TLS failure');
      const s = uplink.status();
      expect(s.state).not.toBe('online');
      expect(s.connectedSince).toBeNull();
      expect(s.lastError?.code).toBe('TLS_UNTRUSTED');
      expect(s.lastError?.message).toMatch(/not trusted.*uplink\.tls\.ca/);
      expect(s.tls.serverFingerprint).toBeNull();
    } finally {
      await uplink.stop();
      store.close();
    }
  }, 30_000);
});
