/**
 * The uplink benchmark for `npm run bench`: 50 machines × 200 points at 1 Hz, simulated in
 * process, through the real batcher, encrypted outbox, forwarder and mqtt.js, to an aedes broker
 * in a child process (so this process's CPU is the console's alone). The broker's side counts
 * every sequence number it receives: nothing lost, nothing duplicated.
 *
 *   1. steady state, all points plain, then all sealed: CPU per second, and the ratio;
 *   2. p99 sample → broker latency (PUBACK received) in the sealed run;
 *   3. a simulated outage (1 h by default) recorded into the outbox, then drained:
 *      drain rate as a multiple of real time, and the disk given back afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MachineSnapshot, PointValue } from '../../src-preload/contract';
import { packageRoot, parseProfile } from '../config/load';
import type { ResolvedDevice } from '../config/schema';
import { silentLogger } from '../core/log';
import { boxKeyPair, randomBytes, signingKeyPair } from '../protocol';
import { ensurePlantIdentity } from '../store/identity';
import { openEncryptedDatabase } from '../store/open';
import { migrate, type StoreDb } from '../store/schema';
import { Batcher, machinePlans, toOutboxItem } from './batcher';
import { UplinkConfigSchema } from './config';
import { makeProvisioning, writeProvisioning } from './provisioning';
import { UplinkService } from './service';

export interface UplinkBenchOptions {
  machines?: number;
  points?: number;
  /** Seconds of each steady-state run. */
  seconds?: number;
  /** Simulated outage length (s). */
  outageSeconds?: number;
  print?: (line: string) => void;
}

/**
 * The broker in a child process; it counts sequence numbers per plant as they arrive and, as a
 * cloud receiver does (docs/uplink.md §18), acknowledges them every 50 ms on the plant's downlink.
 */
const BROKER = `
import { Aedes } from 'aedes';
import net from 'node:net';
const broker = await Aedes.createBroker();
let seen = new Set(); let count = 0; let dupes = 0; let maxSeq = 0; let bytes = 0;
const toAck = new Map();
broker.subscribe('pc/v1/#', (packet, cb) => {
  const t = packet.topic; const p = packet.payload; let seq;
  if (t.includes('/up/sealed/')) seq = Number(p.readBigUInt64BE(40));
  else if (t.includes('/up/')) seq = JSON.parse(p.toString()).seq;
  if (seq !== undefined) {
    count++; bytes += p.length; if (seen.has(seq)) dupes++; else seen.add(seq); if (seq > maxSeq) maxSeq = seq;
    const plant = t.split('/')[2]; if (!toAck.has(plant)) toAck.set(plant, []); toAck.get(plant).push(seq);
  }
  cb();
}, () => {});
setInterval(() => {
  for (const [plant, seqs] of toAck) {
    seqs.sort((a, b) => a - b); const r = [];
    for (const s of seqs) { const l = r[r.length - 1]; if (l && s <= l[1] + 1) l[1] = Math.max(l[1], s); else r.push([s, s]); }
    for (let i = 0; i < r.length; i += 1000) broker.publish({ cmd: 'publish', topic: 'pc/v1/' + plant + '/down', qos: 1, retain: false, dup: false,
      payload: Buffer.from(JSON.stringify({ high: maxSeq, issued: Date.now(), plant, seqs: r.slice(i, i + 1000), type: 'ack', v: 1 })) }, () => {});
  }
  toAck.clear();
}, 50).unref();
const srv = net.createServer(broker.handle);
srv.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: srv.address().port })));
process.stdin.on('data', (d) => { for (const l of d.toString().split('\\n')) {
  if (l === 'report') console.log(JSON.stringify({ count, unique: seen.size, dupes, maxSeq, bytes }));
  if (l === 'reset') { seen = new Set(); count = 0; dupes = 0; maxSeq = 0; bytes = 0; }
} });
`;

interface BrokerReport {
  count: number;
  unique: number;
  dupes: number;
  maxSeq: number;
  bytes: number;
}

class ChildBroker {
  private lines: ((line: string) => void)[] = [];
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<ChildBroker> {
    const child = spawn(process.execPath, ['--input-type=module', '-e', BROKER], {
      cwd: packageRoot(),
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let buf = '';
    const pending: ((line: string) => void)[] = [];
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        pending.shift()?.(line);
      }
    });
    const first = await new Promise<string>((resolve, reject) => {
      pending.push(resolve);
      child.once('exit', (code) => reject(new Error(`bench broker exited with ${code}`)));
    });
    const b = new ChildBroker(child, (JSON.parse(first) as { port: number }).port);
    b.lines = pending;
    return b;
  }

  report(): Promise<BrokerReport> {
    return new Promise((resolve) => {
      this.lines.push((line) => resolve(JSON.parse(line) as BrokerReport));
      this.child.stdin!.write('report\n');
    });
  }

  reset(): void {
    this.child.stdin!.write('reset\n');
  }

  stop(): void {
    this.child.kill('SIGTERM');
  }
}

function devicesFor(machines: number, points: number, cls: (i: number) => 'sealed' | 'plain'): ResolvedDevice[] {
  const profile = parseProfile(
    {
      model: 'bench',
      title: 'Bench machine',
      idealCycleTimeS: 10,
      points: Array.from({ length: points }, (_, i) => ({
        id: `p${String(i).padStart(3, '0')}`,
        name: `Point ${i}`,
        function: 'holding',
        address: i * 2,
        type: 'float32',
        unit: '°C',
        sensitivity: cls(i),
      })),
    },
    '(bench)',
  );
  return Array.from({ length: machines }, (_, m) => ({
    id: `bench-${m}`,
    name: `Bench ${m}`,
    profile: 'builtin:bench',
    transport: { type: 'tcp' as const, host: '127.0.0.1', port: 502 },
    unitId: 1,
    pollIntervalMs: 1000,
    timeoutMs: 1000,
    retries: 0,
    backoff: { initialDelayMs: 500, maxDelayMs: 30_000, randomisationFactor: 0.2 },
    interFrameDelayMs: 0,
    demotion: { afterFailures: 3, intervalMs: 10_000 },
    writeFunction: 'single' as const,
    profileDef: profile,
  }));
}

function snapshot(d: ResolvedDevice, t: number): MachineSnapshot {
  const values: Record<string, PointValue> = {};
  for (const [i, p] of d.profileDef.points.entries())
    values[p.id] = { value: 200 + i / 10 + Math.sin(t / 1000 + i) * 3, raw: [], quality: 'good', ts: t, reason: null };
  return { id: d.id, values, ts: t } as unknown as MachineSnapshot;
}

interface World {
  dir: string;
  db: StoreDb;
  identity: ReturnType<typeof ensurePlantIdentity>;
  provisioning: string;
}

function world(): World {
  const dir = mkdtempSync(join(tmpdir(), 'pc-uplink-bench-'));
  const db = openEncryptedDatabase(join(dir, 'plant.db'), randomBytes(32));
  migrate(db);
  const identity = ensurePlantIdentity(db, { log: silentLogger });
  const provisioning = join(dir, 'provisioning.json');
  writeProvisioning(
    provisioning,
    makeProvisioning({
      plantId: 'bench-plant',
      pseudonymKey: randomBytes(32),
      cloudPublicKeys: [boxKeyPair().publicKey],
      supplierPublicKeys: [signingKeyPair().publicKey],
    }),
  );
  return { dir, db, identity, provisioning };
}

function service(
  w: World,
  port: number,
  devices: ResolvedDevice[],
  core: { onPoll(h: (s: MachineSnapshot) => void): () => void },
): UplinkService {
  const config = UplinkConfigSchema.parse({
    broker: `mqtt://127.0.0.1:${port}`,
    insecurePlainTcp: true,
    protocolVersion: 4,
    provisioning: w.provisioning,
    outbox: { budgetBytes: 8 * 1024 ** 3 },
    publish: { cloudWindow: 4000, inflightWindow: 1000, maxMessagesPerSecond: 50_000, maxBytesPerSecond: 512 * 1024 ** 2 },
  });
  return new UplinkService({ config, configDir: w.dir, devices, core, store: { db: w.db, identity: w.identity }, log: silentLogger });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

/** One steady-state run at 1 Hz real time; returns CPU per second and PUBACK latencies. */
async function steady(broker: ChildBroker, cls: 'sealed' | 'plain' | 'none', machines: number, points: number, seconds: number) {
  const devices = devicesFor(machines, points, () => (cls === 'none' ? 'plain' : cls));
  const handlers = new Set<(s: MachineSnapshot) => void>();
  const core = { onPoll: (h: (s: MachineSnapshot) => void) => (handlers.add(h), () => void handlers.delete(h)) };
  const w = world();
  const svc = cls === 'none' ? null : service(w, broker.port, devices, core);
  const oldest: number[] = [];
  const flushToAck: number[] = [];
  if (svc) {
    const link = svc.link;
    const publish = link.publish.bind(link);
    // Measure each batch from its oldest sample (and from its publication) to the broker's PUBACK.
    link.publish = (topic, payload, opts) => {
      const sent = Date.now();
      const b = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
      const from = topic.includes('/sealed/') ? Number(b.readBigUInt64BE(48)) : (JSON.parse(b.toString()) as { from: number }).from;
      return publish(topic, payload, opts).then(() => {
        const now = Date.now();
        oldest.push(now - from);
        flushToAck.push(now - sent);
      });
    };
    svc.start();
    await sleep(500);
  }
  broker.reset();
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  for (let s = 0; s < seconds; s++) {
    const t = Date.now();
    for (const d of devices) {
      const snap = snapshot(d, t);
      for (const h of handlers) h(snap);
    }
    await sleep(Math.max(0, t0 + (s + 1) * 1000 - Date.now()));
  }
  const cpu = process.cpuUsage(cpu0);
  await sleep(1500);
  await svc?.stop();
  const seq = svc?.status().lastSeq ?? 0;
  const rep = await broker.report();
  w.db.close();
  rmSync(w.dir, { recursive: true, force: true });
  return { cpuPerS: (cpu.user + cpu.system) / 1e6 / seconds, oldest, flushToAck, rep, seq };
}

/** Runs the benchmark and prints its figures; resolves with them. */
export async function runUplinkBench(opts: UplinkBenchOptions = {}): Promise<Record<string, number>> {
  const machines = opts.machines ?? 50;
  const points = opts.points ?? 200;
  const seconds = opts.seconds ?? 10;
  const outageS = opts.outageSeconds ?? 3600;
  const print = opts.print ?? ((l: string) => console.log(l));
  const broker = await ChildBroker.start();
  try {
    print(
      `Uplink bench: ${machines} machines × ${points} points at 1 Hz, batches every 1 s, aedes broker in a child process (MQTT 3.1.1, loopback TCP)`,
    );
    const base = await steady(broker, 'none', machines, points, seconds);
    const plain = await steady(broker, 'plain', machines, points, seconds);
    const sealed = await steady(broker, 'sealed', machines, points, seconds);
    for (const [name, r] of [
      ['plain', plain],
      ['sealed', sealed],
    ] as const) {
      const ok = r.rep.unique === r.seq && r.rep.dupes === 0 && r.rep.maxSeq === r.seq;
      print(
        `  ${name.padEnd(6)} forwarding: ${r.cpuPerS.toFixed(3)} CPU s per s (samples alone ${base.cpuPerS.toFixed(3)}); ${r.seq} batches, broker got ${r.rep.unique} distinct, ${r.rep.dupes} duplicates: ${ok ? 'nothing lost or duplicated' : 'MISMATCH'}`,
      );
    }
    const ratio = sealed.cpuPerS / plain.cpuPerS;
    const netRatio = (sealed.cpuPerS - base.cpuPerS) / (plain.cpuPerS - base.cpuPerS);
    print(`  sealed / plain CPU: ${ratio.toFixed(2)} (forwarding only, samples' cost removed: ${netRatio.toFixed(2)}; target ≤ 1.2)`);
    print(
      `  sample → broker (PUBACK), sealed: p50 ${pct(sealed.oldest, 50)} ms, p99 ${pct(sealed.oldest, 99)} ms from the batch's oldest sample (1 s batches); publish → PUBACK p99 ${pct(sealed.flushToAck, 99)} ms`,
    );

    // The outage: an hour of mixed batches recorded as the batcher would, then drained.
    const devices = devicesFor(machines, points, (i) => (i % 2 === 0 ? 'sealed' : 'plain'));
    const w = world();
    const svc0 = service(w, broker.port, devices, { onPoll: () => () => undefined });
    const batcher = new Batcher(machinePlans(devices, randomBytes(32)));
    const cloudKey = boxKeyPair().publicKey;
    const signer = {
      plant: { id: 'bench-plant', pseudonym: svc0.plant.pseudonym },
      signer: () => w.identity.signing,
      cloudPublicKey: () => cloudKey,
    };
    const fill0 = Date.now();
    const start = fill0 - outageS * 1000;
    for (let s = 0; s < outageS; s++) {
      for (const d of devices) batcher.ingest(snapshot(d, start + s * 1000));
      svc0.outbox.append(batcher.flush().map((b) => toOutboxItem(b, signer)));
    }
    const fillS = (Date.now() - fill0) / 1000;
    const before = svc0.outbox.stats();
    w.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const fileFull = statSync(join(w.dir, 'plant.db')).size;
    print(
      `  outage of ${outageS} s: ${before.depth} batches (${(before.bytes / 1024 ** 2).toFixed(0)} MiB) recorded in ${fillS.toFixed(1)} s`,
    );
    broker.reset();
    const svc = service(w, broker.port, devices, { onPoll: () => () => undefined });
    const spent = { after: 0, remove: 0 };
    const ob = svc.outbox;
    const after = ob.after.bind(ob);
    const remove = ob.removeRanges.bind(ob);
    // Where the drain spends its time: reading batches, and deleting acknowledged ones.
    ob.after = (seq, limit) => {
      const t = performance.now();
      const r = after(seq, limit);
      spent.after += performance.now() - t;
      return r;
    };
    ob.removeRanges = (ranges) => {
      const t = performance.now();
      const r = remove(ranges);
      spent.remove += performance.now() - t;
      return r;
    };
    const d0 = Date.now();
    svc.start();
    const until = d0 + 30 * 60_000;
    let lastLog = Date.now();
    let lastDepth = before.depth;
    let cpuMark = process.cpuUsage();
    while (svc.outbox.stats().depth > 0 && Date.now() < until) {
      await sleep(200);
      if (process.env.BENCH_VERBOSE && Date.now() - lastLog >= 10_000) {
        const depth = svc.outbox.stats().depth;
        const c = process.cpuUsage(cpuMark);
        print(
          `    … ${depth} left, ${(((lastDepth - depth) * 1000) / (Date.now() - lastLog)).toFixed(0)} batches/s, CPU ${((c.user + c.system) / 1e4 / ((Date.now() - lastLog) / 1000)).toFixed(0)} %, heap ${(process.memoryUsage().heapUsed / 1024 ** 2).toFixed(0)} MiB`,
        );
        lastLog = Date.now();
        lastDepth = depth;
        cpuMark = process.cpuUsage();
      }
    }
    const drainS = (Date.now() - d0) / 1000;
    await svc.stop();
    const rep = await broker.report();
    const ok = rep.unique === before.depth && rep.dupes === 0 && rep.maxSeq === before.lastSeq;
    print(
      `  drained in ${drainS.toFixed(1)} s: ${(before.depth / drainS).toFixed(0)} batches/s, ${(outageS / drainS).toFixed(0)}× real time (target ≥ 50×); broker got ${rep.unique} distinct, ${rep.dupes} duplicates: ${ok ? 'nothing lost or duplicated' : 'MISMATCH'}`,
    );
    print(
      `    of which reading the outbox ${(spent.after / 1000).toFixed(1)} s, deleting acknowledged batches ${(spent.remove / 1000).toFixed(1)} s (bench limits: cloud acknowledgements every 50 ms, cloud window 4000, in flight 1000, 50 000 msg/s, 512 MiB/s)`,
    );
    const defaults = UplinkConfigSchema.parse({ broker: 'mqtts://h:1', provisioning: 'p' }).publish;
    const limited = Math.min(
      defaults.maxMessagesPerSecond / (before.depth / outageS),
      defaults.maxBytesPerSecond / (before.bytes / outageS),
    );
    print(
      `    with the default limits (${defaults.maxMessagesPerSecond} msg/s, ${defaults.maxBytesPerSecond / 1024 ** 2} MiB/s) this plant would drain at ${limited.toFixed(0)}× real time: the limit, sized to the plant's link, sets that pace`,
    );
    // The service paces the reclaim itself once the backlog is gone; measure it as it runs.
    const r0 = Date.now();
    const svc2 = service(w, broker.port, devices, { onPoll: () => () => undefined });
    svc2.start();
    while (svc2.outbox.freePages() > 0 && Date.now() - r0 < 30 * 60_000) await sleep(250);
    const reclaimS = (Date.now() - r0) / 1000;
    await svc2.stop();
    w.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const fileAfter = statSync(join(w.dir, 'plant.db')).size;
    print(
      `  disk after draining: ${(fileFull / 1024 ** 2).toFixed(0)} MiB → ${(fileAfter / 1024 ** 2).toFixed(1)} MiB, given back in ${reclaimS.toFixed(1)} s in the background (steps of ≤ ~50 ms)`,
    );
    w.db.close();
    rmSync(w.dir, { recursive: true, force: true });
    return {
      plainCpuPerS: plain.cpuPerS,
      sealedCpuPerS: sealed.cpuPerS,
      ratio,
      netRatio,
      p99SampleToBrokerMs: pct(sealed.oldest, 99),
      drainTimesRealTime: outageS / drainS,
      lost: before.depth - rep.unique,
      duplicated: rep.dupes,
    };
  } finally {
    broker.stop();
  }
}
