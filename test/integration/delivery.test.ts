/**
 * Nothing lost between the plant's outbox and the cloud's store (issue #19), judged by the
 * reference receiver's database: every sequence number a plant assigned is stored there once,
 * or declared lost by a signed gap notice. Real plants (`startPlant`, and the console as a child
 * process), real device agents, the reference receiver (MQTT 5 shared subscription, fixed client
 * id), and one Debian mosquitto on the reference configuration (docs/mosquitto/: TLS, passwords,
 * the reference ACL, persistence) with its queue limit lowered to 40 messages. Through:
 * a broker restart mid-stream; the receiver away past the broker's queue limit; a full disk on a
 * small file system the test mounts; a WAL damaged after a SIGKILL.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../device-agent/agent';
import { PLANT_ALARM_MACHINE } from '../../src-main/alarms/rules';
import { DISK_FULL_RULE } from '../../src-main/app/data-loss-watch';
import { startPlant, type RunningPlant } from '../../src-main/app/bootstrap';
import { runCli } from '../../src-main/cli';
import { memoryLogger, silentLogger } from '../../src-main/core/log';
import { GUARD_FILE_NAME } from '../../src-main/store/sequence-guard';
import { readProvisioning } from '../../src-main/uplink/provisioning';
import { generateSupplierKeys, writePlantProvisioning } from '../../supplier-cloud/keygen';
import { KEY_FILES } from '../../supplier-cloud/keyfiles';
import { startReceiver, type Receiver } from '../../supplier-cloud/receiver';
import type { ReceiverEvent } from '../../supplier-cloud/events';
import { openTestPlantStore } from '../helpers/plant-store';
import { brokerAvailable, disposeBroker, REFERENCE_ACL, startBroker, type Broker } from '../helpers/mosquitto';
import { waitUntil } from '../helpers/uplink-cloud';
import { runCliProcess, startUplinkRunner } from '../helpers/uplink-process';

const PASS = 'delivery integration passphrase';
const CLOUD_PW = 'cloud-' + Math.random().toString(36).slice(2);
const QUEUE_LIMIT = 40;
const tmp = mkdtempSync(join(tmpdir(), 'pc-delivery-'));
const keysDir = join(tmp, 'keys');
const mnt = join(tmp, 'small-disk');

interface TestPlant {
  id: string;
  pseudonym: string;
  password: string;
  dataDir: string;
  configFile: string;
}

let broker: Broker | undefined;
let agents: Agent[] = [];
let receiver: Receiver | undefined;
const events: ReceiverEvent[] = [];
const plants: Record<'restart' | 'away' | 'disk' | 'wal', TestPlant> = {} as never;
let mounted = false;

function plantConfig(p: TestPlant, provisioning: string): void {
  writeFileSync(
    p.configFile,
    JSON.stringify({
      plant: { name: `Delivery ${p.id}` },
      devices: agents.map((a, i) => ({
        id: `m${i}-${a.model}`,
        name: `Machine ${i}`,
        profile: `builtin:${a.model}`,
        transport: { type: 'tcp', host: '127.0.0.1', port: a.port },
        pollIntervalMs: 100,
      })),
      uplink: {
        broker: `mqtts://127.0.0.1:${broker!.port}`,
        tls: { ca: join(broker!.dir, 'ca.crt'), servername: 'localhost' },
        username: p.pseudonym,
        passwordEnv: 'DELIVERY_PLANT_PASSWORD',
        provisioning,
        batchIntervalMs: 250,
        keepaliveS: 5,
        backoff: { initialDelayMs: 200, maxDelayMs: 1000, randomisationFactor: 0.2 },
        publish: { cloudWindow: 10, ackTimeoutMs: 1500 },
      },
    }),
  );
}

async function receive(): Promise<Receiver> {
  return startReceiver(
    {
      broker: {
        url: `mqtts://127.0.0.1:${broker!.port}`,
        ca: join(broker!.dir, 'ca.crt'),
        username: 'supplier-cloud',
        passwordEnv: 'DELIVERY_CLOUD_PASSWORD',
        servername: 'localhost',
        clientId: 'delivery-rx-1',
      },
      cloudKeys: join(keysDir, KEY_FILES.cloudSecret),
      database: join(tmp, 'cloud.db'),
      group: 'delivery',
      announcementWaitMs: 0,
      plants: Object.values(plants).map((p) => ({ provisioning: join(tmp, `${p.id}.json`), keysShow: join(tmp, `${p.id}-keys.json`) })),
    },
    { env: { DELIVERY_CLOUD_PASSWORD: CLOUD_PW }, name: 'rx-1', onEvent: (e) => events.push(e) },
  );
}

/** What the cloud's store holds of a plant: stored sequences and the ranges its notices declared lost. */
function cloudView(p: TestPlant): { stored: Set<number>; lost: [number, number][]; notRecorded: number } {
  const db = new Database(join(tmp, 'cloud.db'));
  try {
    const stored = new Set((db.prepare('SELECT seq FROM batches WHERE plant = ?').raw().all([p.pseudonym]) as [number][]).map((r) => r[0]));
    const lost = db.prepare('SELECT from_seq, to_seq FROM declared_lost WHERE plant = ?').raw().all([p.pseudonym]) as [number, number][];
    const nr = db
      .prepare('SELECT coalesce(sum(not_recorded_sealed + not_recorded_plain), 0) FROM gap_notices WHERE plant = ?')
      .raw()
      .get([p.pseudonym]) as [number];
    return { stored, lost, notRecorded: nr[0] };
  } finally {
    db.close();
  }
}

/** Every number from 1 to n is stored at the cloud or declared lost (the primary key stores each once). */
function expectAccountedFor(p: TestPlant, n: number): { stored: number; declaredLost: number } {
  const v = cloudView(p);
  const missing: number[] = [];
  let declaredLost = 0;
  for (let s = 1; s <= n; s++) {
    if (v.stored.has(s)) continue;
    if (v.lost.some(([a, b]) => s >= a && s <= b)) declaredLost++;
    else missing.push(s);
  }
  expect(missing, `${p.id}: sequences neither stored nor declared lost`).toEqual([]);
  return { stored: n - declaredLost, declaredLost };
}

/** Stops polling, lets the uplink drain its outbox (cloud-acknowledged), and returns the last sequence assigned. */
async function drain(plant: RunningPlant): Promise<number> {
  await plant.core.stop();
  plant.uplink!.tick();
  await waitUntil(() => plant.uplink!.status().outbox.depth === 0, 30_000, 'the outbox to drain');
  return plant.uplink!.status().lastSeq;
}

async function runPlant(p: TestPlant, log = silentLogger): Promise<RunningPlant> {
  process.env.PLANT_CONSOLE_PASSPHRASE = PASS;
  process.env.DELIVERY_PLANT_PASSWORD = p.password;
  return startPlant({ configPath: p.configFile, dataDir: p.dataDir, log });
}

const storedCount = (p: TestPlant): number => cloudView(p).stored.size;

describe.skipIf(!brokerAvailable())('delivery end to end (reference mosquitto, reference receiver)', () => {
  beforeAll(async () => {
    // A small file system of our own to fill: tmpfs, mounted here (the tests run as root).
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128m,mode=0700', 'tmpfs', mnt], { stdio: 'pipe' });
      mounted = true;
    } catch (err) {
      throw new Error(
        `The full-disk test mounts a 128 MiB tmpfs at ${mnt} (mount -t tmpfs, needs root or CAP_SYS_ADMIN) and could not: ${(err as Error).message}`,
      );
    }
    generateSupplierKeys({ dir: keysDir, plantId: 'delivery-restart' });
    agents = [await startAgent({ port: 0, model: 'im250', seed: 7 }), await startAgent({ port: 0, model: 'hp200', seed: 8 })];
    for (const name of ['restart', 'away', 'disk', 'wal'] as const) {
      const id = `delivery-${name}`;
      const provisioning = join(tmp, `${id}.json`);
      if (name === 'restart') writeFileSync(provisioning, readFileSync(join(keysDir, KEY_FILES.provisioning)));
      else writePlantProvisioning({ keysDir, out: provisioning, plantId: id });
      const pseudonym = readProvisioning(provisioning).provisioning.plant!.pseudonym;
      const dataDir = join(name === 'disk' ? mnt : tmp, id);
      plants[name] = {
        id,
        pseudonym,
        password: 'pw-' + Math.random().toString(36).slice(2),
        dataDir,
        configFile: join(tmp, `${id}-plant.json`),
      };
      const store = await openTestPlantStore(dataDir, PASS);
      const k = store.identity.signing;
      writeFileSync(
        join(tmp, `${id}-keys.json`),
        JSON.stringify({ keys: [{ use: 'signing', alg: 'ed25519', keyId: k.kid, publicKeyHex: k.publicKey.toString('hex') }] }),
      );
      store.close();
      // The damaged-WAL plant's store is as one from before the sequence guard: the console's first start makes it.
      if (name === 'wal') rmSync(join(dataDir, GUARD_FILE_NAME));
    }
    broker = await startBroker(
      [
        { username: 'supplier-cloud', password: CLOUD_PW, acl: [] },
        ...Object.values(plants).map((p) => ({ username: p.pseudonym, password: p.password, acl: [] })),
      ],
      { acl: readFileSync(REFERENCE_ACL, 'utf8'), override: { max_queued_messages: String(QUEUE_LIMIT) } },
    );
    for (const name of Object.keys(plants) as (keyof typeof plants)[]) plantConfig(plants[name], join(tmp, `delivery-${name}.json`));
    // The receiver starts in the first test: until then nobody is subscribed.
  }, 60_000);

  afterAll(async () => {
    await receiver?.stop();
    await Promise.all(agents.map((a) => a.stop()));
    await disposeBroker(broker);
    if (mounted) execFileSync('umount', ['-l', mnt]);
    delete process.env.PLANT_CONSOLE_PASSPHRASE;
    delete process.env.DELIVERY_PLANT_PASSWORD;
    rmSync(tmp, { recursive: true, force: true });
  });

  it('keeps what a broker delivers to nobody (0x10), and loses nothing through a broker restart (persistence, shared subscription)', async () => {
    const p = plants.restart;
    // No receiver has subscribed yet: mosquitto answers each publish 0x10 "no matching subscribers".
    const plant = await runPlant(p);
    let n = 0;
    try {
      await waitUntil(() => plant.uplink!.status().delivery.state === 'held', 15_000, 'the plant to hold its batches');
      const held = plant.uplink!.status();
      expect(held.delivery.undelivered).toBeGreaterThan(0);
      expect(held.delivery.detail).toMatch(/0x10/);
      expect(held.outbox.depth).toBeGreaterThan(0);
      expect(held.acknowledged).toBe(0);
      expect(plant.core.health()).toMatchObject({
        status: 'degraded',
        problems: expect.arrayContaining([expect.objectContaining({ code: 'UPLINK_HELD' })]),
      });

      receiver = await receive();
      await waitUntil(() => storedCount(p) >= 20, 20_000, 'the first batches at the cloud');
      expect(plant.uplink!.status().delivery.state).toBe('ok');

      // The broker restarts mid-stream (SIGTERM: it saves its persistence), the receiver stays up.
      const before = plant.uplink!.status().lastSeq;
      await broker!.stop();
      await broker!.start();
      await waitUntil(
        () => plant.uplink!.status().lastSeq >= before + 40 && storedCount(p) >= before + 20,
        30_000,
        'delivery after the restart',
      );
      expect(events.filter((e) => e.event === 'connection' && e.state === 'online').length).toBeGreaterThanOrEqual(2);
      n = await drain(plant);
    } finally {
      await plant.stop();
    }
    const r = expectAccountedFor(p, n);
    expect(r.declaredLost).toBe(0);
    console.log(`broker restart: ${n} sequences, all stored once`);
  }, 90_000);

  it(`loses nothing while the receiver is away past the broker's queue limit (${QUEUE_LIMIT} messages)`, async () => {
    const p = plants.away;
    receiver ??= await receive();
    const plant = await runPlant(p);
    let n = 0;
    try {
      await waitUntil(() => storedCount(p) >= 10, 20_000, 'the first batches at the cloud');
      await receiver!.stop();
      const away = plant.uplink!.status().lastSeq;
      // Far more batches than the broker queues for the absent receiver are assigned meanwhile.
      await waitUntil(() => plant.uplink!.status().lastSeq >= away + 3 * QUEUE_LIMIT, 30_000, 'batches while the receiver is away');
      const s = plant.uplink!.status();
      expect(s.outbox.depth).toBeGreaterThan(QUEUE_LIMIT);
      expect(s.delivery.outstanding).toBeLessThanOrEqual(10);
      receiver = await receive();
      n = await drain(plant);
    } finally {
      await plant.stop();
    }
    const r = expectAccountedFor(p, n);
    expect(r.declaredLost).toBe(0);
    console.log(
      `receiver away: ${n} sequences, all stored once; broker dropped nothing: ${!/messages are being dropped/i.test(broker!.log())}`,
    );
  }, 90_000);

  it('a full disk is an alarm, a counted drop, a signed gap notice and the real cause in the log; nothing assigned is lost', async () => {
    const p = plants.disk;
    receiver ??= await receive();
    const log = memoryLogger();
    const plant = await runPlant(p, log);
    const filler = join(mnt, 'filler');
    let n = 0;
    let drops = plant.uplink!.status().drops;
    try {
      await waitUntil(() => storedCount(p) >= 10, 20_000, 'the first batches at the cloud');
      // Fill the small file system to the last byte.
      const fd = openSync(filler, 'w');
      try {
        const chunk = Buffer.alloc(1024 * 1024, 1);
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        closeSync(fd);
      }
      await waitUntil(() => plant.store.disk.isFull(), 30_000, 'the console to notice the full disk');
      await waitUntil(() => plant.uplink!.status().drops.notRecordedSealed > 0, 10_000, 'batches counted as not recorded');
      const s = plant.uplink!.status();
      expect(s.outbox).toMatchObject({ full: true, fullCause: 'disk' });
      expect(plant.core.health()).toMatchObject({
        core: 'running',
        status: 'degraded',
        problems: expect.arrayContaining([expect.objectContaining({ code: 'DISK_FULL' })]),
      });
      expect(plant.core.alarms.alarms().map((a) => a.id)).toContain(`${PLANT_ALARM_MACHINE}/${DISK_FULL_RULE}`);
      // The notice goes out when recording stops, not only when it resumes.
      await waitUntil(() => cloudView(p).notRecorded > 0, 20_000, 'the gap notice of a full disk at the cloud');
      const lines = log.lines.map((l) => `${l.msg} ${JSON.stringify(l.fields ?? {})}`);
      expect(lines.some((l) => /SQLITE_FULL|database or disk is full/.test(l))).toBe(true);
      expect(lines.some((l) => /cannot rollback/.test(l))).toBe(false);

      rmSync(filler);
      await waitUntil(() => !plant.store.disk.isFull(), 20_000, 'the disk to be free again');
      const resumed = plant.uplink!.status().lastSeq;
      await waitUntil(() => storedCount(p) >= resumed + 5, 20_000, 'recording to resume');
      n = await drain(plant);
      drops = plant.uplink!.status().drops;
    } finally {
      rmSync(filler, { force: true });
      await plant.stop();
    }
    const r = expectAccountedFor(p, n);
    const s = cloudView(p);
    expect(drops.notRecordedSealed + drops.notRecordedPlain).toBeGreaterThan(0);
    expect(s.notRecorded).toBe(drops.notRecordedSealed + drops.notRecordedPlain);
    console.log(`full disk: ${n} sequences (${r.declaredLost} declared lost), ${s.notRecorded} batches not recorded and reported`);
  }, 120_000);

  it('a WAL damaged after a SIGKILL: the console refuses to start, says what to do, and never reuses a number', async () => {
    const p = plants.wal;
    receiver ??= await receive();
    const env = { PLANT_CONSOLE_PASSPHRASE: PASS, DELIVERY_PLANT_PASSWORD: p.password };
    // A first run that ends cleanly checkpoints the store; the second is killed with a WAL full of batches.
    const first = await startUplinkRunner(p.configFile, p.dataDir, env);
    await waitUntil(() => storedCount(p) >= 8, 20_000, 'the first run at the cloud');
    // A command run beside the console (an operator's store check) only reads: the console keeps
    // its WAL (its locks hold; no other process takes it for the last one) and its numbering.
    const beside = await runCliProcess(['store', 'check', '--data-dir', p.dataDir], env);
    expect(beside.code, beside.err).toBe(0);
    expect(beside.out).toMatch(/passed its integrity check/);
    expect(existsSync(join(p.dataDir, 'plant.db-wal'))).toBe(true);
    const besideAt = first.status()?.lastSeq ?? 0;
    await waitUntil(() => (first.status()?.lastSeq ?? 0) > besideAt, 10_000, 'the console to go on numbering');
    const firstLast = first.status()?.lastSeq ?? 0;
    await first.stop();
    const wal = join(p.dataDir, 'plant.db-wal');
    // A clean stop checkpoints and removes the WAL: the second run starts a new one.
    const firstWal = statSync(wal, { throwIfNoEntry: false })?.size ?? 0;
    const second = await startUplinkRunner(p.configFile, p.dataDir, env);
    await waitUntil(() => (second.status()?.lastSeq ?? 0) >= firstLast + 30, 20_000, 'the second run to number more batches');
    await second.kill();
    const used = Math.max(...cloudView(p).stored);
    // One flipped byte in the first frame the second run wrote: SQLite drops that frame and every
    // one after it, and the store silently goes back to where the first run left it.
    expect(statSync(wal).size).toBeGreaterThan(firstWal);
    const at = Math.max(firstWal, 32) + 24 + 200;
    const fd = openSync(wal, 'r+');
    try {
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, at);
      b[0] = b[0]! ^ 0xff;
      writeSync(fd, b, 0, 1, at);
    } finally {
      closeSync(fd);
    }
    let err = '';
    const io = { out: () => {}, err: (s: string) => void (err += s) };
    process.env.PLANT_CONSOLE_PASSPHRASE = PASS;
    process.env.DELIVERY_PLANT_PASSWORD = p.password;
    expect(await runCli(['store', 'check', '--data-dir', p.dataDir], io)).toBe(1);
    expect(err).toMatch(/behind its sequence guard/);
    expect(err).toMatch(/plant-console store recover --data-dir/);
    expect(err).not.toMatch(/\n\s+at /);
    let out = '';
    expect(await runCli(['store', 'recover', '--data-dir', p.dataDir], { out: (s) => void (out += s), err: () => {} })).toBe(0);
    expect(out).toMatch(/numbering continues at (\d+)/);
    const continuesAt = Number(/continues at (\d+)/.exec(out)![1]);
    expect(continuesAt).toBeGreaterThan(used);

    const plant = await runPlant(p);
    let n = 0;
    try {
      n = await drain(plant);
    } finally {
      await plant.stop();
    }
    expect(n).toBeGreaterThanOrEqual(continuesAt);
    const r = expectAccountedFor(p, n);
    // The numbers the rolled-back store lost were declared, signed, up to the one before the recovery's.
    const lost = cloudView(p).lost;
    expect(lost.some(([a, b]) => a > 1 && b === continuesAt - 1)).toBe(true);
    console.log(
      `damaged WAL: refused, recovered at ${continuesAt} (declared ${lost.map(([a, b]) => `${a}..${b}`).join(',')}); ${n} sequences, ${r.declaredLost} not stored but declared lost`,
    );
  }, 120_000);
});
