/**
 * Interoperability with Modbus implementations this project did not write:
 * - the console's poller reads a pymodbus server (Debian's python3-pymodbus), over Modbus TCP
 *   and over RTU on a pty pair, where pymodbus' own BinaryPayloadBuilder laid out float32 and
 *   int32 in all four word/byte orders (and a few other types): each decodes to the value put in;
 * - mbpoll (libmodbus) reads the device agent over RTU. Its Modbus TCP side is read by mbpoll in
 *   device-agent.test.ts.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { runDeviceAgentCli } from '../../device-agent/cli';
import { startRtuLine } from '../../device-agent/rtu-server';
import { ProfileSchema, type PointDef, type ResolvedDevice, type TransportConfig } from '../../src-main/config/schema';
import type { PollResult, Poller } from '../../src-main/core/types';
import { decode, encode } from '../../src-main/modbus/codec';
import { LinePool } from '../../src-main/modbus/line';
import { createPoller } from '../../src-main/modbus/poller';
import { haveSocat, startPtyPair, type PtyPair } from '../helpers/pty';
import { describeNeeding, itNeeding } from '../helpers/needs-package';

const PYTHON = '/usr/bin/python3';
const MBPOLL = '/usr/bin/mbpoll';
const havePymodbus = existsSync(PYTHON) && existsSync('/usr/lib/python3/dist-packages/pymodbus');
const haveSerialAsyncio = existsSync('/usr/lib/python3/dist-packages/serial_asyncio');

/** The pymodbus server: registers laid out by pymodbus itself from the spec given as argv[1]. */
const SERVER_PY = `
import asyncio, json, sys
from pymodbus.constants import Endian
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.payload import BinaryPayloadBuilder
from pymodbus.server.async_io import ModbusSerialServer, StartAsyncTcpServer
from pymodbus.transaction import ModbusRtuFramer

ORDER = {"big": Endian.Big, "little": Endian.Little}

def registers(item):
    b = BinaryPayloadBuilder(byteorder=ORDER[item["byteOrder"]], wordorder=ORDER[item["wordOrder"]])
    add = {"float32": b.add_32bit_float, "int32": b.add_32bit_int, "uint32": b.add_32bit_uint,
           "float64": b.add_64bit_float, "int16": b.add_16bit_int, "uint16": b.add_16bit_uint}[item["type"]]
    add(item["value"])
    return b.to_registers()

async def main():
    spec = json.loads(sys.argv[1])
    tables = {"hr": [0] * 200, "ir": [0] * 200}
    for item in spec["values"]:
        regs = registers(item)
        for table in tables.values():
            table[item["address"]:item["address"] + len(regs)] = regs
    # zero_mode: address 0 is the first register (pymodbus adds 1 otherwise).
    slave = ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, tables["hr"]), ir=ModbusSequentialDataBlock(0, tables["ir"]),
        co=ModbusSequentialDataBlock(0, spec["bits"]), di=ModbusSequentialDataBlock(0, spec["bits"]), zero_mode=True)
    context = ModbusServerContext(slaves=slave, single=True)
    if spec["mode"] == "tcp":
        server = await StartAsyncTcpServer(context=context, address=("127.0.0.1", 0), defer_start=True)
        task = asyncio.create_task(server.serve_forever())
        await server.serving
        print("READY", server.server.sockets[0].getsockname()[1], flush=True)
        await task
    else:
        server = ModbusSerialServer(context, ModbusRtuFramer, port=spec["path"], baudrate=115200)
        await server.start()
        print("READY 0", flush=True)
        while True:
            await asyncio.sleep(3600)

asyncio.run(main())
`;

type Order = 'big' | 'little';
const ORDERS: [Order, Order][] = [
  ['big', 'big'],
  ['little', 'big'],
  ['big', 'little'],
  ['little', 'little'],
];
const F32 = -1234.5678;
const I32 = -123456789;
const BITS = [1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1];

interface Item {
  id: string;
  type: 'float32' | 'int32' | 'uint32' | 'float64' | 'int16' | 'uint16';
  address: number;
  wordOrder: Order;
  byteOrder: Order;
  value: number;
}

const ITEMS: Item[] = [
  ...ORDERS.map(([w, b], i) => ({ id: `f32-${w}-${b}`, type: 'float32' as const, address: i * 2, wordOrder: w, byteOrder: b, value: F32 })),
  ...ORDERS.map(([w, b], i) => ({
    id: `i32-${w}-${b}`,
    type: 'int32' as const,
    address: 10 + i * 2,
    wordOrder: w,
    byteOrder: b,
    value: I32,
  })),
  { id: 'u32', type: 'uint32', address: 20, wordOrder: 'little', byteOrder: 'big', value: 3_000_000_000 },
  { id: 'f64', type: 'float64', address: 22, wordOrder: 'big', byteOrder: 'big', value: 98765.4321 },
  { id: 'i16', type: 'int16', address: 26, wordOrder: 'big', byteOrder: 'little', value: -1234 },
  { id: 'u16', type: 'uint16', address: 27, wordOrder: 'big', byteOrder: 'big', value: 54321 },
];

/** The same items as profile points, once in holding and once in input registers, plus bits. */
const profile = ProfileSchema.parse({
  model: 'interop',
  title: 'Interop',
  idealCycleTimeS: 1,
  points: [
    ...ITEMS.flatMap((it) =>
      (['holding', 'input'] as const).map((fn) => ({
        id: `${fn[0]}-${it.id}`,
        name: it.id,
        function: fn,
        address: it.address,
        type: it.type,
        wordOrder: it.wordOrder,
        byteOrder: it.byteOrder,
      })),
    ),
    ...BITS.map((_, i) => ({ id: `c${i}`, name: `coil ${i}`, function: 'coil', address: i, type: 'bool' })),
    ...BITS.map((_, i) => ({ id: `d${i}`, name: `input ${i}`, function: 'discrete', address: i, type: 'bool' })),
  ],
});

let dir: string;
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pc-interop-'));
  writeFileSync(join(dir, 'server.py'), SERVER_PY);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const c of children.splice(0)) {
    const gone = new Promise<void>((res) => (c.exitCode !== null || c.signalCode !== null ? res() : c.once('exit', () => res())));
    c.kill('SIGKILL');
    await gone;
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the pymodbus server; resolves with its TCP port (0 on a serial line) once it is ready (at most 15 s). */
async function pymodbus(mode: 'tcp' | 'rtu', path?: string): Promise<number> {
  const spec = { mode, path, bits: [...BITS, ...Array<number>(100).fill(0)], values: ITEMS };
  const child = spawn(PYTHON, [join(dir, 'server.py'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => void (err.length < 4000 && (err += d.toString())));
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pymodbus did not start in 15 s: ${err}`)), 15_000);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      // print() may reach the pipe in pieces: wait for the whole line.
      out += d.toString();
      const m = /READY (\d+)\n/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve(Number(m[1]));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pymodbus exited with ${code}: ${err}`));
    });
  });
}

function device(transport: TransportConfig): ResolvedDevice {
  return {
    id: 'interop',
    name: 'Interop',
    profile: 'x',
    transport,
    unitId: 1,
    pollIntervalMs: 200,
    timeoutMs: 1000,
    retries: 1,
    backoff: { initialDelayMs: 100, maxDelayMs: 500, randomisationFactor: 0 },
    interFrameDelayMs: 0,
    demotion: { afterFailures: 3, intervalMs: 10_000 },
    // pymodbus answers an exception for reads that run into unmapped gaps: keep blocks exact.
    limits: { maxGap: 0 },
    writeFunction: 'single',
    profileDef: profile,
  };
}

async function firstResult(transport: TransportConfig): Promise<PollResult> {
  const poller: Poller = createPoller(device(transport), { pool: new LinePool() });
  cleanups.push(() => poller.stop());
  const r = new Promise<PollResult>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no good poll in 10 s: ${JSON.stringify(poller.link())}`)), 10_000);
    poller.onResult((x) => {
      if (x.link.state !== 'online') return;
      clearTimeout(timer);
      resolve(x);
    });
  });
  poller.start();
  return r;
}

function expectAllDecoded(r: PollResult): void {
  for (const p of profile.points) {
    const v = r.values[p.id]!;
    expect({ id: p.id, quality: v.quality, reason: v.reason }).toEqual({ id: p.id, quality: 'good', reason: null });
    if (p.type === 'bool') {
      expect(v.value, p.id).toBe(BITS[p.address] === 1);
      continue;
    }
    const item = ITEMS.find((it) => p.id.endsWith(`-${it.id}`))!;
    const want = p.type === 'float32' ? Math.fround(item.value) : item.value;
    expect(v.value, p.id).toBe(want);
    // pymodbus' register layout is exactly what our own encoder produces for that order.
    expect(v.raw, p.id).toEqual(encode(p, item.value));
  }
  // The four float32 and the four int32 layouts differ on the wire, yet decode the same.
  const f32raw = new Set(ORDERS.map(([w, b]) => r.values[`h-f32-${w}-${b}`]!.raw.join(',')));
  expect(f32raw.size).toBe(4);
}

describeNeeding(['python3-pymodbus'], havePymodbus, 'the poller reads a pymodbus server', () => {
  it('over Modbus TCP: float32 and int32 in all four word/byte orders, and more types', async () => {
    const port = await pymodbus('tcp');
    expectAllDecoded(await firstResult({ type: 'tcp', host: '127.0.0.1', port }));
  });

  itNeeding(
    ['socat', 'python3-serial-asyncio'],
    haveSocat() && haveSerialAsyncio,
    'over Modbus RTU on a pty pair at 115200 baud',
    async () => {
      const pty = await startPtyPair();
      cleanups.push(() => pty.stop());
      await pymodbus('rtu', pty.a);
      expectAllDecoded(await firstResult({ type: 'rtu', path: pty.b, baudRate: 115200, parity: 'none', dataBits: 8, stopBits: 1 }));
    },
  );
});

/** Runs mbpoll once (at most 10 s); resolves with its exit code and output. */
function mbpoll(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(MBPOLL, ['-1', '-o', '1', ...args], { timeout: 10_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** `[ref]: value` lines of mbpoll's output, by reference. */
function parse(stdout: string): Map<number, string> {
  return new Map([...stdout.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)].map((m) => [Number(m[1]), m[2]!]));
}

describeNeeding(['socat', 'mbpoll'], haveSocat() && existsSync(MBPOLL), 'mbpoll reads the device agent over RTU', () => {
  let pty: PtyPair;
  beforeAll(async () => {
    pty = await startPtyPair();
  });
  afterAll(async () => {
    await pty?.stop();
  });

  it('registers, a float32 and bits of several units on one line', async () => {
    const line = await startRtuLine({
      path: pty.a,
      baudRate: 115200,
      tickMs: 3_600_000,
      units: [
        { unitId: 1, model: 'pk60', seed: 5 },
        { unitId: 7, model: 'im250', seed: 6 },
      ],
    });
    cleanups.push(() => line.stop());
    const rtu = ['-m', 'rtu', '-b', '115200', '-P', 'none', '-0'];
    for (const unit of [1, 7]) {
      const bank = line.units.get(unit)!.bank;
      const regs = await mbpoll([...rtu, '-a', String(unit), '-t', '3', '-r', '0', '-c', '10', pty.b]);
      expect(regs.code, regs.stderr).toBe(0);
      const got = parse(regs.stdout);
      const want = bank.read('input', 0, 10);
      // mbpoll prints 16-bit registers signed.
      expect([...got.values()].map((v) => Number(v) & 0xffff)).toEqual(want);
    }
    // pk60's cycle time: a float32, big word order, as mbpoll decodes it (-B).
    const cycle: PointDef = line.units.get(1)!.bank.profile.points.find((p) => p.id === 'cycle')!;
    const f = await mbpoll([...rtu, '-a', '1', '-t', '3:float', '-B', '-r', String(cycle.address), '-c', '1', pty.b]);
    expect(f.code, f.stderr).toBe(0);
    const want = decode(cycle, line.units.get(1)!.bank.read('input', cycle.address, 2)) as number;
    expect(Number(parse(f.stdout).get(cycle.address))).toBeCloseTo(want, 3);
    const bits = await mbpoll([...rtu, '-a', '1', '-t', '1', '-r', '0', '-c', '4', pty.b]);
    expect(bits.code, bits.stderr).toBe(0);
    expect([...parse(bits.stdout).values()].map(Number)).toEqual(line.units.get(1)!.bank.read('discrete', 0, 4));
    // A unit that is not on the line: mbpoll times out, as on a real bus.
    const none = await mbpoll([...rtu, '-a', '9', '-t', '3', '-r', '0', '-c', '1', pty.b]);
    expect(none.code).not.toBe(0);
  });

  it('the device-agent CLI serves RTU on --rtu-path and RTU over TCP on --rtu-tcp-port', async () => {
    const out: string[] = [];
    const err: string[] = [];
    let stop!: () => void;
    const stopSignal = new Promise<void>((res) => (stop = res));
    const done = runDeviceAgentCli(
      ['--rtu-path', pty.a, '--baud', '115200', '--rtu-tcp-port', '0', '--model', 'pk60', '--unit-id', '3', '--seed', '9'],
      {
        out: (l) => void out.push(l),
        err: (l) => void err.push(l),
        stopSignal,
      },
    );
    for (let i = 0; i < 100 && out.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(out[0]).toBe(`device-agent: PK-60 (pk60) unit 3 serving Modbus RTU on ${pty.a} @ 115200 — SIMULATED`);
    expect(out[1]).toMatch(/^device-agent: PK-60 \(pk60\) unit 3 serving Modbus RTU over TCP on 127\.0\.0\.1:\d+ — SIMULATED$/);
    const port = Number(/:(\d+) —/.exec(out[1]!)![1]);
    const viaMbpoll = await mbpoll(['-m', 'rtu', '-b', '115200', '-P', 'none', '-0', '-a', '3', '-t', '4', '-r', '0', '-c', '2', pty.b]);
    expect(viaMbpoll.code, viaMbpoll.stderr).toBe(0);
    // The same machine over RTU-over-TCP, read by the console's own line.
    const pool = new LinePool();
    const l = pool.acquire({ type: 'rtu-tcp', host: '127.0.0.1', port });
    const viaTcp = await l.read(3, 'holding', 0, 2, { timeoutMs: 1000 });
    await pool.release(l);
    expect([...parse(viaMbpoll.stdout).values()].map((v) => Number(v) & 0xffff)).toEqual(viaTcp);
    stop();
    expect(await done).toBe(0);
    expect(out.at(-1)).toBe('device-agent: stopped');
  });
});
