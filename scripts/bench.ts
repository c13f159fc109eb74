/**
 * `npm run bench`: the console's poller (decoding, machine model, KPIs, history on) against a
 * raw modbus-serial read loop over the same device agents and the same read blocks; then shared
 * lines with dead units (see line-bench.ts): one RTU line at 115200 baud over a socat pty pair,
 * and a Modbus TCP gateway, each with 8 units, and a gateway with 3 silent units of 10; a noisy
 * RTU line (noise-bench.ts); then the plant scale (plant-bench.ts: N devices × 250 registers
 * every 50 ms, `serve --config` against a plain loop, both in processes of their own), the
 * history store's bytes per sample, and the uplink.
 *
 * BENCH_SECONDS (5) per phase of the first parts; BENCH_PLANT_DEVICES (10) and BENCH_PLANT_SECONDS
 * (30) for the plant scale; BENCH_ONLY=plant runs only the plant scale and the store, BENCH_ONLY=store the store.
 * Agents run in child processes so that only the console side's CPU is measured here.
 * Prints figures; asserts nothing (targets live here, not in timed tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import ModbusRTU from 'modbus-serial';
import { loadProfile, packageRoot } from '../src-main/config/load';
import type { PlantConfig, ResolvedDevice } from '../src-main/config/schema';
import { silentLogger } from '../src-main/core/log';
import { PlantCore } from '../src-main/core/plant';
import { planReads } from '../src-main/modbus/planner';
import { runUplinkBench } from '../src-main/uplink/bench';
import { runLineBenches } from './line-bench';
import { runNoiseBench } from './noise-bench';
import { formatStoreBench, runStoreBench } from '../src-main/store/bench';
import { freePort } from './free-port';
import { runPlantBench } from './plant-bench';

const MODELS = ['im250', 'hp200', 'pk60', 'im250'] as const;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

async function startAgentProcess(model: string, port: number, seed: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [join(packageRoot(), 'bin/device-agent.js'), '--modbus-port', String(port), '--model', model, '--seed', String(seed)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent ${model} did not start in 10 s`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('serving')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`agent exited with ${code}`)));
  });
  return child;
}

function device(i: number, model: string, port: number): ResolvedDevice {
  return {
    id: `bench-${i}`,
    name: `Bench ${i}`,
    profile: `builtin:${model}`,
    transport: { type: 'tcp', host: '127.0.0.1', port },
    unitId: 1,
    // As fast as the device answers: the bench measures throughput, not a poll schedule.
    pollIntervalMs: 0,
    timeoutMs: 2000,
    retries: 0,
    backoff: { initialDelayMs: 100, maxDelayMs: 1000, randomisationFactor: 0 },
    interFrameDelayMs: 0,
    demotion: { afterFailures: 3, intervalMs: 10_000 },
    writeFunction: 'single',
    profileDef: loadProfile(`builtin:${model}`, packageRoot()),
  };
}

/** Raw loop: the same blocks the planner makes, read back to back, nothing decoded. */
async function rawLoop(devices: ResolvedDevice[], seconds: number): Promise<{ points: number; cpuS: number }> {
  const cpu0 = process.cpuUsage();
  const until = Date.now() + seconds * 1000;
  const counts = await Promise.all(
    devices.map(async (d) => {
      const client = new ModbusRTU();
      if (d.transport.type !== 'tcp') throw new Error('bench devices are Modbus TCP');
      await client.connectTCP(d.transport.host, { port: d.transport.port });
      client.setID(d.unitId);
      client.setTimeout(d.timeoutMs);
      const blocks = planReads(d.profileDef.points, d.profileDef.limits);
      let points = 0;
      while (Date.now() < until) {
        for (const b of blocks) {
          if (b.function === 'holding') await client.readHoldingRegisters(b.start, b.count);
          else if (b.function === 'input') await client.readInputRegisters(b.start, b.count);
          else if (b.function === 'coil') await client.readCoils(b.start, b.count);
          else await client.readDiscreteInputs(b.start, b.count);
        }
        points += d.profileDef.points.length;
      }
      await new Promise<void>((r) => client.close(() => r()));
      return points;
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { points: counts.reduce((a, b) => a + b, 0), cpuS: (cpu.user + cpu.system) / 1e6 };
}

/** The console: PlantCore with its pollers, machine models, KPI trackers and history. */
async function consoleLoop(devices: ResolvedDevice[], seconds: number): Promise<{ points: number; cpuS: number; heapMB: number }> {
  const config: PlantConfig = {
    plant: { name: 'Bench', timezone: 'UTC' },
    shifts: [{ name: 'Day', start: '06:00' }],
    kpi: { rollingWindowMin: 60 },
    history: { retentionMin: 60, retentionDays: 7, rollupRetentionDays: 90, diskBudgetMB: 512 },
    writes: { enabled: false },
    access: { localViewWithoutLogin: true, idleLockMinutes: 15 },
    devices,
    simulated: true,
    source: '(bench)',
  };
  const core = new PlantCore({ config, log: silentLogger });
  let points = 0;
  let counting = false;
  // Every poll (machine events to the UI go out at 10 Hz at most).
  const online = new Set<string>();
  core.onMachine((s) => void (s.link.state === 'online' ? online.add(s.id) : online.delete(s.id)));
  core.onPoll((p) => {
    if (counting && online.has(p.id)) points += Object.keys(p.values).length;
  });
  core.start();
  // Let connections come up before measuring.
  await new Promise((r) => setTimeout(r, 500));
  const cpu0 = process.cpuUsage();
  counting = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const cpu = process.cpuUsage(cpu0);
  const heapMB = process.memoryUsage().heapUsed / 1024 / 1024;
  await core.stop();
  return { points, cpuS: (cpu.user + cpu.system) / 1e6, heapMB };
}

async function plantScale(): Promise<void> {
  await runPlantBench({
    devices: Number(process.env.BENCH_PLANT_DEVICES ?? 10),
    seconds: Number(process.env.BENCH_PLANT_SECONDS ?? 30),
    warmupS: 10,
  });
  console.log(formatStoreBench(runStoreBench()));
}

async function main(): Promise<void> {
  if (process.env.BENCH_ONLY === 'plant') return plantScale();
  if (process.env.BENCH_ONLY === 'store') return void console.log(formatStoreBench(runStoreBench()));
  const agents: ChildProcess[] = [];
  try {
    const devices: ResolvedDevice[] = [];
    for (const [i, model] of MODELS.entries()) {
      const port = await freePort();
      agents.push(await startAgentProcess(model, port, i + 1));
      devices.push(device(i, model, port));
    }
    const pointsPerCycle = devices.reduce((a, d) => a + d.profileDef.points.length, 0);
    console.log(
      `Plant Console bench: ${devices.length} device agents (${MODELS.join(', ')}), ${pointsPerCycle} points per round, ${SECONDS} s per phase, Node ${process.version}`,
    );
    const raw = await rawLoop(devices, SECONDS);
    const con = await consoleLoop(devices, SECONDS);
    const rawRate = raw.points / SECONDS;
    const conRate = con.points / SECONDS;
    const row = (name: string, rate: number, cpuS: number, pts: number) =>
      `${name.padEnd(40)} ${rate.toFixed(0).padStart(9)} points/s   ${((cpuS / pts) * 1e6).toFixed(2).padStart(7)} CPU s per million points`;
    console.log(row('raw modbus-serial loop (baseline)', rawRate, raw.cpuS, raw.points));
    console.log(row('console poller + model + KPI + history', conRate, con.cpuS, con.points));
    console.log(`ratio console / baseline: ${(conRate / rawRate).toFixed(2)}   heap after run: ${con.heapMB.toFixed(1)} MB`);
  } finally {
    for (const a of agents) a.kill('SIGTERM');
  }
  await runLineBenches(SECONDS);
  await runNoiseBench(SECONDS);
  await plantScale();
  // BENCH_UPLINK_OUTAGE_S shortens the simulated outage (default 1 h: about 5 minutes of bench).
  await runUplinkBench({ seconds: Math.max(5, SECONDS * 2), outageSeconds: Number(process.env.BENCH_UPLINK_OUTAGE_S ?? 3600) });
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
