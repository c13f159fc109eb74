/**
 * Part of `npm run bench`: what a noisy line costs. Four live units on an RTU line at 115200
 * baud (socat pty pair), polled on a plant's schedule (every 250 ms each, 200 ms timeout, one
 * retry, demotion after 3 failed polls). Then each answer arrives spoiled (a bad CRC or a frame
 * cut short) with a chance of one in 12, and one in 3 (a fixed pseudo-random sequence). Printed
 * per phase: complete polls/s (every point good) against the clean line, how often a unit went
 * offline, and how many were demoted. Found from outside before: at 1 in 12 live units kept
 * 0.27–0.69 of their rate and flapped offline; at 1 in 3 all were demoted within 4 s and
 * delivered nothing for 35 s.
 */
import { startRtuLine, type LineServer, type UnitFault } from '../device-agent/rtu-server';
import type { ResolvedDevice, TransportConfig } from '../src-main/config/schema';
import { LinePool } from '../src-main/modbus/line';
import { createPoller } from '../src-main/modbus/poller';
import { haveSocat, startPtyPair } from '../test/helpers/pty';
import { benchUnit } from './line-bench';

const MODELS = ['im250', 'hp200', 'pk60', 'im250'] as const;

/** A plant's schedule: every 250 ms, the default backoff and demotion. */
function device(transport: TransportConfig, unitId: number): ResolvedDevice {
  return benchUnit(transport, unitId, MODELS[unitId - 1]!, {
    pollIntervalMs: 250,
    backoff: { initialDelayMs: 500, maxDelayMs: 30_000, randomisationFactor: 0.2 },
    demotion: { afterFailures: 3, intervalMs: 10_000 },
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** 120 answers, each spoiled with a chance of 1 in `every` (a bad CRC or a cut frame), from a fixed seed: noise comes in runs. */
function pattern(every: number, seed: number): UnitFault[] {
  let s = seed >>> 0;
  const random = (): number => {
    // mulberry32: repeatable from run to run.
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: 120 }, (): UnitFault => (random() < 1 / every ? (random() < 0.5 ? 'bad-crc' : 'short') : 'none'));
}

interface Phase {
  rate: number;
  offline: number;
  demoted: number;
}

async function phase(line: LineServer, transport: TransportConfig, every: number | null, seconds: number): Promise<Phase> {
  const pool = new LinePool();
  const units = [1, 2, 3, 4];
  const pollers = units.map((u) => createPoller(device(transport, u), { pool }));
  let complete = 0;
  let offline = 0;
  let counting = false;
  for (const p of pollers) {
    let was = 'connecting';
    p.onResult((r) => {
      if (counting && Object.values(r.values).every((v) => v.quality === 'good')) complete++;
      if (counting && r.link.state === 'offline' && was !== 'offline') offline++;
      was = r.link.state;
    });
    p.start();
  }
  // Keeps each unit's queue of faults topped up while the phase runs (bounded by the phase's time).
  const faults = units.map((u) => (every === null ? [] : pattern(every, u * 7919 + every)));
  const topUp = setInterval(() => {
    for (const [i, u] of units.entries()) {
      const f = faults[i]!;
      if (f.length > 0 && line.units.get(u)!.faults.length < f.length) for (const x of f) line.inject(u, x);
    }
  }, 20);
  await sleep(500);
  counting = true;
  const start = Date.now();
  await sleep(seconds * 1000);
  counting = false;
  const elapsed = (Date.now() - start) / 1000;
  clearInterval(topUp);
  const demoted = pollers.filter((p) => p.link().demoted).length;
  await Promise.all(pollers.map((p) => p.stop()));
  for (const u of units) line.units.get(u)!.faults.length = 0;
  return { rate: complete / elapsed, offline, demoted };
}

/** Runs the noisy-line phases and prints their figures. */
export async function runNoiseBench(seconds: number): Promise<void> {
  console.log(
    `\nNoisy RTU line: 4 units polled every 250 ms (timeout 200 ms, 1 retry, demoted after 3 failed polls), ${seconds} s per phase`,
  );
  if (!haveSocat()) {
    console.log('skipped (socat is not installed: apt-get install socat)');
    return;
  }
  const pty = await startPtyPair();
  const line = await startRtuLine({
    path: pty.a,
    baudRate: 115200,
    units: MODELS.map((model, i) => ({ unitId: i + 1, model, seed: i + 1 })),
  });
  try {
    const transport: TransportConfig = { type: 'rtu', path: pty.b, baudRate: 115200, parity: 'none', dataBits: 8, stopBits: 1 };
    await phase(line, transport, null, 1);
    const clean = await phase(line, transport, null, seconds);
    console.log(`${'clean line'.padEnd(40)} ${clean.rate.toFixed(1).padStart(6)} complete polls/s (4 × 4 scheduled)`);
    for (const every of [12, 3]) {
      const p = await phase(line, transport, every, seconds);
      console.log(
        `${`1 answer in ${every} spoiled`.padEnd(40)} ${p.rate.toFixed(1).padStart(6)} complete polls/s   ratio ${(p.rate / clean.rate).toFixed(2)}   went offline ${p.offline}×   demoted ${p.demoted} of 4`,
      );
    }
  } finally {
    await line.stop();
    await pty.stop();
  }
}
