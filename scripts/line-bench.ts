/**
 * Part of `npm run bench`: what dead units cost their neighbours on a shared line. Eight units
 * on one line, polled as fast as the line allows; achieved polls/s of the seven live units
 * alone, then with the eighth (dead) unit present, once it is demoted. Two lines: Modbus RTU at
 * 115200 baud over a socat pty pair, and a Modbus TCP gateway (8 unit ids behind one address).
 * Then ten units behind one gateway, three of them silent: the seven live units' rate with the
 * three demoted, against their rate alone (probes of demoted units keep to a bounded share of
 * the line: src-main/modbus/probes.ts).
 *
 * The simulated units run in this process (a serial port can be opened by one process only, and
 * one process serves the whole line), so the CPU is shared with the console side. A pty moves
 * bytes without baud-rate timing: only the console's own pacing (3.5 characters, at least
 * 1.75 ms above 19200 baud) and the round trip shape the RTU figures.
 */
import { startRtuLine, type LineServer } from '../device-agent/rtu-server';
import { loadProfile, packageRoot } from '../src-main/config/load';
import type { ResolvedDevice, TransportConfig } from '../src-main/config/schema';
import { LinePool } from '../src-main/modbus/line';
import { createPoller } from '../src-main/modbus/poller';
import { haveSocat, startPtyPair, type PtyPair } from '../test/helpers/pty';

const MODELS = ['im250', 'hp200', 'pk60'] as const;
const UNITS = 8;
const DEAD = 8;
/** Dead unit's policy: its probe costs one timeout every demotion interval (10 % of the line). */
const DEAD_TIMEOUT_MS = 200;
const DEMOTION_MS = 2000;

/** Unit `unitId` of a bench line: a built-in model, the line benches' policy unless `over` changes it. */
export function benchUnit(transport: TransportConfig, unitId: number, model: string, over: Partial<ResolvedDevice> = {}): ResolvedDevice {
  return {
    id: `unit-${unitId}`,
    name: `Unit ${unitId}`,
    profile: `builtin:${model}`,
    transport,
    unitId,
    // As fast as the line allows: the bench measures the line, not a poll schedule.
    pollIntervalMs: 0,
    timeoutMs: DEAD_TIMEOUT_MS,
    retries: 1,
    backoff: { initialDelayMs: 100, maxDelayMs: 1000, randomisationFactor: 0 },
    interFrameDelayMs: 0,
    demotion: { afterFailures: 3, intervalMs: DEMOTION_MS },
    writeFunction: 'single',
    profileDef: loadProfile(`builtin:${model}`, packageRoot()),
    ...over,
  };
}

function device(transport: TransportConfig, unitId: number): ResolvedDevice {
  return benchUnit(transport, unitId, MODELS[(unitId - 1) % MODELS.length]!);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls/s of the `live` units over `seconds`, with or without the `dead` ones (measured once all are demoted). */
async function measure(
  transport: TransportConfig,
  units: { live: number[]; dead: number[] },
  seconds: number,
): Promise<{ rate: number; demotedAfterMs: number | null }> {
  const pool = new LinePool();
  const live = units.live.map((u) => createPoller(device(transport, u), { pool }));
  const dead = units.dead.map((u) => createPoller(device(transport, u), { pool }));
  let count = 0;
  let counting = false;
  for (const p of live) p.onResult((r) => void (counting && r.link.state === 'online' && count++));
  const t0 = Date.now();
  for (const p of [...live, ...dead]) p.start();
  let demotedAfterMs: number | null = null;
  // Bounded wait for the dead units' demotion (three failed polls each), then for the line to settle.
  const allDemoted = (): boolean => dead.every((p) => p.link().demoted);
  for (let i = 0; dead.length > 0 && i < 300 && !allDemoted(); i++) await sleep(20);
  if (dead.length > 0 && allDemoted()) demotedAfterMs = Date.now() - t0;
  await sleep(300);
  counting = true;
  const start = Date.now();
  await sleep(seconds * 1000);
  counting = false;
  const rate = (count * 1000) / (Date.now() - start);
  await Promise.all([...live, ...dead].map((p) => p.stop()));
  return { rate, demotedAfterMs };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function runCase(
  name: string,
  transport: TransportConfig,
  seconds: number,
  units = { live: range(1, UNITS - 1), dead: [DEAD] },
): Promise<void> {
  // A first round warms up the JIT and the slave, so that the two phases compare fairly.
  await measure(transport, { live: units.live, dead: [] }, 1);
  const alone = await measure(transport, { live: units.live, dead: [] }, seconds);
  const together = await measure(transport, units, seconds);
  const what = units.dead.length === 1 ? 'the dead unit' : `${units.dead.length} dead units`;
  const demoted = together.demotedAfterMs === null ? 'not demoted!' : `demoted after ${together.demotedAfterMs} ms`;
  console.log(
    `${name.padEnd(40)} live units: ${alone.rate.toFixed(0).padStart(6)} polls/s alone, ${together.rate.toFixed(0).padStart(6)} with ${what} (${demoted})   ratio ${(together.rate / alone.rate).toFixed(2)}`,
  );
}

/** Runs the RTU line and the TCP gateway cases and prints their figures. */
export async function runLineBenches(seconds: number): Promise<void> {
  console.log(
    `\nShared lines: ${UNITS} units (${UNITS - 1} live + 1 dead, timeout ${DEAD_TIMEOUT_MS} ms, 1 retry, demoted after 3 failed polls, then probed every ${DEMOTION_MS / 1000} s), ${seconds} s per phase`,
  );
  const units = (dead: boolean | 'exception') =>
    Array.from({ length: UNITS }, (_, i) => ({
      unitId: i + 1,
      model: MODELS[i % MODELS.length],
      seed: i + 1,
      dead: i + 1 === DEAD ? dead : false,
    }));

  let pty: PtyPair | null = null;
  let server: LineServer | null = null;
  if (!haveSocat()) {
    console.log('RTU line: skipped (socat is not installed: apt-get install socat)');
  } else {
    try {
      pty = await startPtyPair();
      server = await startRtuLine({ path: pty.a, baudRate: 115200, units: units(true) });
      await runCase(
        'RTU 115200 8N1 (socat pty pair)',
        { type: 'rtu', path: pty.b, baudRate: 115200, parity: 'none', dataBits: 8, stopBits: 1 },
        seconds,
      );
    } finally {
      await server?.stop();
      await pty?.stop();
    }
  }
  for (const dead of [true, 'exception'] as const) {
    const gw = await startRtuLine({ port: 0, framing: 'mbap', units: units(dead) });
    try {
      await runCase(
        `TCP gateway, dead unit ${dead === true ? 'silent' : 'exception 11'}`,
        { type: 'tcp', host: '127.0.0.1', port: gw.port! },
        seconds,
      );
    } finally {
      await gw.stop();
    }
  }
  // Ten units behind one gateway, three of them silent (as found from outside: they cost a live unit 20 % before).
  const silent = [8, 9, 10];
  const gw = await startRtuLine({
    port: 0,
    framing: 'mbap',
    units: range(1, 10).map((u) => ({ unitId: u, model: MODELS[(u - 1) % MODELS.length], seed: u, dead: silent.includes(u) })),
  });
  try {
    await runCase('TCP gateway, 3 silent of 10 units', { type: 'tcp', host: '127.0.0.1', port: gw.port! }, seconds, {
      live: range(1, 7),
      dead: silent,
    });
  } finally {
    await gw.stop();
  }
}
