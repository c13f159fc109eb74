/**
 * Part of `npm run bench`: the console at plant scale, measured from outside as a plant engineer
 * would load it. N simulated devices × 250 holding registers (scripts/plant-sim.ts, one Modbus TCP
 * port each, every value changing) polled every 50 ms, first by a plain modbus-serial fixed-rate
 * loop (scripts/plain-loop.ts), then by `plant-console serve --config` with the whole pipeline on
 * (decode, machine model, KPIs, alarms, events, history, the uplink to a broker in a child
 * process). Each runs in a process of its own; both are measured the same way: points/s from
 * their own counters (the console's /healthz), CPU from /proc. Prints figures; asserts nothing.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../src-main/config/load';
import { LATENESS_WINDOW_MS } from '../src-main/modbus/poller';
import { boxKeyPair, randomBytes, signingKeyPair } from '../src-main/protocol';
import { makeProvisioning, writeProvisioning } from '../src-main/uplink/provisioning';
import type { Health } from '../src-preload/contract';
import { freePort } from './free-port';

export const REGISTERS = 250;
export const INTERVAL_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CPU seconds a process (all its threads) has used, from /proc. */
function cpuSeconds(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds per thread of a process, by thread name (the main thread is named after the process). */
function threadSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / CLK_TCK);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** A child whose stdout is JSON lines; `next()` resolves with the next one. */
function jsonChild(args: string[], env: Record<string, string> = {}): { child: ChildProcess; next: () => Promise<unknown> } {
  const child = spawn(process.execPath, args, { cwd: packageRoot(), stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const waiting: ((v: unknown) => void)[] = [];
  const lines: unknown[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch {
      return;
    }
    const w = waiting.shift();
    if (w) w(v);
    else lines.push(v);
  });
  return {
    child,
    next: () =>
      new Promise((resolve, reject) => {
        if (lines.length > 0) return resolve(lines.shift());
        const t = setTimeout(() => reject(new Error(`${args[0]} gave no answer within 60 s`)), 60_000);
        waiting.push((v) => {
          clearTimeout(t);
          resolve(v);
        });
      }),
  };
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill(signal);
  });
}

/** CPU-s per million points by thread name, between two readings. */
function perMillion(before: Map<string, number>, after: Map<string, number>, points: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, s] of after) out.set(name, ((s - (before.get(name) ?? 0)) / points) * 1e6);
  return out;
}

/** What one side achieved over the measured window. */
export interface SideResult {
  pointsPerSecond: number;
  cpuPerMillionPoints: number;
  /** Worst device's 99th percentile of start lateness (ms). */
  p99LatenessMs: number;
  overruns: number;
  /** CPU of the main (polling) thread alone, per million points; null for the plain loop (one thread). */
  mainThreadCpuPerMillionPoints: number | null;
  /** CPU-s per million points by thread name (main, the history writer, V8's helpers, libuv's pool). */
  threads: Map<string, number>;
}

/** The plain modbus-serial loop over the simulated devices. */
async function plainLoop(ports: number[], warmupS: number, seconds: number): Promise<SideResult> {
  const loop = jsonChild([
    join(packageRoot(), 'out/main/plain-loop.js'),
    '--ports',
    ports.join(','),
    '--registers',
    String(REGISTERS),
    '--interval',
    String(INTERVAL_MS),
  ]);
  try {
    await loop.next();
    await sleep(warmupS * 1000);
    loop.child.stdin!.write('reset\n');
    const cpu0 = cpuSeconds(loop.child.pid!);
    const threads0 = threadSeconds(loop.child.pid!);
    await sleep(seconds * 1000);
    loop.child.stdin!.write('report\n');
    const r = (await loop.next()) as { points: number; overruns: number; lateness: { p99Ms: number } };
    const cpu = cpuSeconds(loop.child.pid!) - cpu0;
    const threads = perMillion(threads0, threadSeconds(loop.child.pid!), r.points);
    return {
      threads,
      pointsPerSecond: r.points / seconds,
      cpuPerMillionPoints: (cpu / r.points) * 1e6,
      p99LatenessMs: r.lateness.p99Ms,
      overruns: r.overruns,
      mainThreadCpuPerMillionPoints: null,
    };
  } finally {
    loop.child.stdin!.end();
    await stopChild(loop.child);
  }
}

/** The bench's device profile: 250 uint16 holding registers, some sealed or plain, a counter, a few alarms. */
function benchProfile(): unknown {
  return {
    model: 'plant-bench',
    title: 'Plant bench machine',
    idealCycleTimeS: 0.05,
    points: Array.from({ length: REGISTERS }, (_, i) => ({
      id: `r${String(i).padStart(3, '0')}`,
      name: `Register ${i}`,
      function: 'holding',
      address: i,
      type: 'uint16',
      unit: 'counts',
      // One in ten leaves the plant sealed, one in ten plain; the rest stays local.
      sensitivity: i % 10 === 1 ? 'sealed' : i % 10 === 2 ? 'plain' : 'local',
      ...(i === 9 ? { role: 'goodCount' } : {}),
    })),
    alarms: [0, 3, 5, 7].map((i) => ({
      id: `high-${i}`,
      kind: 'high',
      point: `r${String(i).padStart(3, '0')}`,
      limit: 60_000,
      message: `Register ${i} high`,
    })),
  };
}

/** The console as a user runs it: `serve --config`, measured through /healthz and /proc. */
async function consoleRun(
  ports: number[],
  warmupS: number,
  seconds: number,
): Promise<SideResult & { bytesPerSampleFresh: number | null; history: Health['history'] }> {
  const dir = mkdtempSync(join(tmpdir(), 'pc-plant-bench-'));
  const broker = jsonChild([
    '--input-type=module',
    '-e',
    `import { Aedes } from 'aedes'; import net from 'node:net';
     const broker = await Aedes.createBroker();
     const srv = net.createServer(broker.handle);
     srv.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: srv.address().port })));
     process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`,
  ]);
  let serve: ChildProcess | null = null;
  try {
    const { port: brokerPort } = (await broker.next()) as { port: number };
    writeFileSync(join(dir, 'plant-bench.json'), JSON.stringify(benchProfile()));
    writeProvisioning(
      join(dir, 'provisioning.json'),
      makeProvisioning({
        plantId: 'plant-bench',
        pseudonymKey: randomBytes(32),
        cloudPublicKeys: [boxKeyPair().publicKey],
        supplierPublicKeys: [signingKeyPair().publicKey],
      }),
    );
    writeFileSync(
      join(dir, 'plant.json'),
      JSON.stringify({
        plant: { name: 'Plant bench', timezone: 'UTC' },
        devices: ports.map((port, i) => ({
          id: `dev-${i}`,
          name: `Device ${i}`,
          profile: 'plant-bench.json',
          transport: { type: 'tcp', host: '127.0.0.1', port },
          pollIntervalMs: INTERVAL_MS,
          timeoutMs: 1000,
          retries: 0,
        })),
        uplink: {
          broker: `mqtt://127.0.0.1:${brokerPort}`,
          insecurePlainTcp: true,
          protocolVersion: 4,
          provisioning: 'provisioning.json',
        },
      }),
    );
    const httpPort = await freePort();
    // BENCH_CONSOLE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to profile the console as it runs here.
    const nodeArgs = (process.env.BENCH_CONSOLE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    serve = spawn(
      process.execPath,
      [
        ...nodeArgs,
        join(packageRoot(), 'bin/plant-console.js'),
        'serve',
        '--config',
        join(dir, 'plant.json'),
        '--data-dir',
        join(dir, 'data'),
        '--port',
        String(httpPort),
        '--log-level',
        'warn',
      ],
      {
        cwd: packageRoot(),
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, PLANT_CONSOLE_PASSPHRASE: 'plant bench passphrase' },
      },
    );
    const pid = serve.pid!;
    const health = async (): Promise<Health | null> => {
      try {
        const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
        return res.ok ? ((await res.json()) as Health) : null;
      } catch {
        return null;
      }
    };
    const until = Date.now() + 90_000;
    for (;;) {
      const h = await health();
      if (h && h.machines.length === ports.length && h.machines.every((m) => m.link.state === 'online')) break;
      if (Date.now() > until) throw new Error('the console did not bring every device online within 90 s');
      if (serve.exitCode !== null) throw new Error(`the console exited with ${serve.exitCode}`);
      await sleep(250);
    }
    // The console's p99 lateness covers its last one to two windows: it warms up until its start-up
    // (compiling, opening the store) has left them, so both sides' p99 are of steady polling.
    await sleep(Math.max(warmupS, (2 * LATENESS_WINDOW_MS) / 1000 - seconds) * 1000);
    const polls = (h: Health): number => h.machines.reduce((a, m) => a + m.link.pollsOk + m.link.pollsFailed, 0);
    const overruns = (h: Health): number => h.machines.reduce((a, m) => a + (m.link.overruns ?? 0), 0);
    const h0 = (await health())!;
    const cpu0 = cpuSeconds(pid);
    const main0 = cpuSeconds(pid, pid);
    const threads0 = threadSeconds(pid);
    await sleep(seconds * 1000);
    const h1 = (await health())!;
    const cpu = cpuSeconds(pid) - cpu0;
    const mainCpu = cpuSeconds(pid, pid) - main0;
    const points = (polls(h1) - polls(h0)) * REGISTERS;
    const threads = perMillion(threads0, threadSeconds(pid), points);
    const written = (h1.history?.samplesWritten ?? 0) - (h0.history?.samplesWritten ?? 0);
    const used = (h1.history?.usedBytes ?? 0) - (h0.history?.usedBytes ?? 0);
    return {
      pointsPerSecond: points / seconds,
      cpuPerMillionPoints: (cpu / points) * 1e6,
      mainThreadCpuPerMillionPoints: (mainCpu / points) * 1e6,
      threads,
      p99LatenessMs: Math.max(...h1.machines.map((m) => m.link.lateness?.p99Ms ?? 0)),
      overruns: overruns(h1) - overruns(h0),
      bytesPerSampleFresh: written > 0 && used > 0 ? used / written : null,
      history: h1.history,
    };
  } finally {
    if (serve) await stopChild(serve);
    broker.child.stdin!.end();
    await stopChild(broker.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs both sides over N simulated devices and prints the comparison. */
export async function runPlantBench(opts: {
  devices: number;
  seconds: number;
  warmupS: number;
  print?: (s: string) => void;
}): Promise<void> {
  const print = opts.print ?? ((s: string) => console.log(s));
  const sim = jsonChild([
    join(packageRoot(), 'out/main/plant-sim.js'),
    '--devices',
    String(opts.devices),
    '--registers',
    String(REGISTERS),
  ]);
  try {
    const { ports } = (await sim.next()) as { ports: number[] };
    const asked = (opts.devices * REGISTERS * 1000) / INTERVAL_MS;
    print(
      `\nPlant scale: ${opts.devices} devices × ${REGISTERS} holding registers every ${INTERVAL_MS} ms (${asked.toFixed(0)} points/s asked), ` +
        `equipment in a child process, ${opts.seconds} s measured after ${opts.warmupS} s warm-up ` +
        `(the console's: until its p99 lateness, over its last ${LATENESS_WINDOW_MS / 1000}–${(2 * LATENESS_WINDOW_MS) / 1000} s, leaves start-up out)`,
    );
    const plain = await plainLoop(ports, opts.warmupS, opts.seconds);
    const con = await consoleRun(ports, opts.warmupS, opts.seconds);
    const row = (name: string, r: SideResult): string =>
      `${name.padEnd(44)} ${r.pointsPerSecond.toFixed(0).padStart(7)} points/s (${((r.pointsPerSecond / asked) * 100).toFixed(1).padStart(5)} % of schedule)  ` +
      `${r.cpuPerMillionPoints.toFixed(2).padStart(5)} CPU-s/M points  p99 lateness ${r.p99LatenessMs.toFixed(1)} ms  overruns ${r.overruns}`;
    print(row('plain modbus-serial fixed-rate loop', plain));
    print(row('plant-console serve --config (whole pipeline)', con));
    print(
      `console / plain CPU per point: ${(con.cpuPerMillionPoints / plain.cpuPerMillionPoints).toFixed(2)}× ` +
        `(target ≤ 2×); main thread alone ${con.mainThreadCpuPerMillionPoints?.toFixed(2)} CPU-s/M points; ` +
        `schedule held ${((con.pointsPerSecond / asked) * 100).toFixed(1)} % (target ≥ 98 %); p99 lateness target < 10 ms`,
    );
    const threads = (r: SideResult): string =>
      [...r.threads]
        .filter(([, v]) => v >= 0.05)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ');
    print(`CPU-s per million points by thread: plain loop ${threads(plain)}; console ${threads(con)}`);
    const h = con.history;
    if (h)
      print(
        `console history during the run: writer ${h.writer}, ${(con.bytesPerSampleFresh ?? NaN).toFixed(2)} bytes on disk per sample ` +
          `as sealed every flush (before compaction into 10-minute blocks), ${h.samplesDropped} dropped, ${h.errors} errors`,
      );
  } finally {
    sim.child.stdin!.end();
    await stopChild(sim.child);
  }
}
