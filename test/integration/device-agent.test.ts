import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import ModbusRTU from 'modbus-serial';
import type { PointDef } from '../../src-main/config/schema';
import { ConsoleError } from '../../src-main/core/errors';
import { decode, registerCount } from '../../src-main/modbus/codec';
import { startAgent, type Agent } from '../../device-agent/agent';
import { runDeviceAgentCli } from '../../device-agent/cli';
import { mulberry32 } from '../../device-agent/simulator';
import { describeNeeding } from '../helpers/needs-package';

const HOST = '127.0.0.1';
const MBPOLL = '/usr/bin/mbpoll';
const T0 = Date.UTC(2026, 0, 5, 6, 0, 0);

const agents: Agent[] = [];
const clients: ModbusRTU[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => new Promise<void>((res) => (c.isOpen ? c.close(() => res()) : res()))));
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

async function agent(opts: Parameters<typeof startAgent>[0]): Promise<Agent> {
  const a = await startAgent(opts);
  agents.push(a);
  return a;
}

async function client(port: number, unitId = 1): Promise<ModbusRTU> {
  const c = new ModbusRTU();
  clients.push(c);
  await c.connectTCP(HOST, { port });
  c.setID(unitId);
  c.setTimeout(2000);
  return c;
}

/** The registers (bits as 0/1) of one point, read with the function its profile names. */
async function readPoint(c: ModbusRTU, p: PointDef): Promise<number[]> {
  const n = registerCount(p);
  switch (p.function) {
    case 'coil':
      return (await c.readCoils(p.address, n)).data.slice(0, n).map(Number);
    case 'discrete':
      return (await c.readDiscreteInputs(p.address, n)).data.slice(0, n).map(Number);
    case 'input':
      return (await c.readInputRegisters(p.address, n)).data;
    case 'holding':
      return (await c.readHoldingRegisters(p.address, n)).data;
  }
}

/** The Modbus exception code a request is refused with (0: it was not refused). */
async function exceptionOf(request: Promise<unknown>): Promise<number> {
  try {
    await request;
    return 0;
  } catch (err) {
    const code = (err as { modbusCode?: unknown }).modbusCode;
    if (typeof code === 'number') return code;
    throw err;
  }
}

/** Runs mbpoll once against the agent; never longer than 10 s. */
function mbpoll(port: number, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      MBPOLL,
      ['-m', 'tcp', '-1', '-o', '2', '-p', String(port), ...args],
      { timeout: 10_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `[ref]: value` lines of mbpoll's output, as unsigned values by 0-based address. */
function parseMbpoll(stdout: string): number[] {
  return [...stdout.matchAll(/^\[(\d+)\]:\s+(\d+)/gm)].map((m) => Number(m[2]));
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.listen(0, HOST, () => res());
  });
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

async function canBind(port: number): Promise<boolean> {
  const s = createServer();
  const ok = await new Promise<boolean>((res) => {
    s.once('error', () => res(false));
    s.listen(port, HOST, () => res(true));
  });
  if (ok) await new Promise<void>((res) => s.close(() => res()));
  return ok;
}

describe('device-agent over Modbus TCP', () => {
  it.each(['im250', 'hp200', 'pk60'])('%s: modbus-serial reads what the simulator holds', async (model) => {
    const a = await agent({ port: 0, model, seed: 21, clock: () => T0 });
    expect(a.port).toBeGreaterThan(0);
    expect(a).toMatchObject({ host: HOST, model, unitId: 1, seed: 21 });
    const c = await client(a.port);
    const values = a.simulator.values();
    for (const p of a.simulator.profile.points) {
      const got = decode(p, await readPoint(c, p));
      const want = values[p.id]!;
      if (typeof want === 'number') {
        const tol = p.type === 'float32' ? Math.abs(want) * 1e-6 + 1e-6 : p.type === 'float64' ? 1e-9 : Math.abs(p.scale) / 2 + 1e-9;
        expect(Math.abs((got as number) - want), `${model}.${p.id}`).toBeLessThanOrEqual(tol);
      } else {
        expect(got, `${model}.${p.id}`).toEqual(want);
      }
    }
  });

  it('runs the simulation on its timer from the injected clock', async () => {
    let now = T0;
    const a = await agent({ port: 0, model: 'pk60', seed: 4, tickMs: 20, clock: () => now });
    a.simulator.forceState('running');
    const c = await client(a.port);
    const count = async (): Promise<number> => {
      const good = a.simulator.profile.points.find((p) => p.id === 'good')!;
      return decode(good, await readPoint(c, good)) as number;
    };
    const before = await count();
    now += 60_000;
    let after = before;
    for (let i = 0; i < 50 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = await count();
    }
    expect(after - before).toBeGreaterThan(40);
    expect(after - before).toBeLessThan(70);
  });

  describeNeeding(['mbpoll'], existsSync(MBPOLL), 'with Debian mbpoll (libmodbus)', () => {
    it('reads the same registers the agent serves', async () => {
      const a = await agent({ port: 0, model: 'im250', seed: 5, clock: () => T0 });
      const cases: { args: string[]; fn: PointDef['function']; start: number; count: number }[] = [
        { args: ['-t', '3', '-r', '1', '-c', '10'], fn: 'input', start: 0, count: 10 },
        { args: ['-t', '3', '-r', '13', '-c', '22'], fn: 'input', start: 12, count: 22 },
        { args: ['-t', '4', '-r', '101', '-c', '3'], fn: 'holding', start: 100, count: 3 },
        { args: ['-t', '1', '-r', '1', '-c', '2'], fn: 'discrete', start: 0, count: 2 },
        { args: ['-t', '0', '-r', '1', '-c', '1'], fn: 'coil', start: 0, count: 1 },
      ];
      for (const k of cases) {
        const r = await mbpoll(a.port, ['-a', '1', ...k.args, HOST]);
        expect(r.code, r.stderr).toBe(0);
        expect(parseMbpoll(r.stdout), k.args.join(' ')).toEqual(a.bank.read(k.fn, k.start, k.count));
      }
      const hp = await agent({ port: 0, model: 'hp200', seed: 5, clock: () => T0 });
      const r = await mbpoll(hp.port, ['-a', '1', '-t', '4', '-r', '1', '-c', '14', HOST]);
      expect(parseMbpoll(r.stdout)).toEqual(hp.bank.read('holding', 0, 14));
    });

    it('writes a setpoint, and is refused out of limits, on read-only points and for other units', async () => {
      const a = await agent({ port: 0, model: 'im250', seed: 5, clock: () => T0 });
      const ok = await mbpoll(a.port, ['-a', '1', '-t', '4', '-r', '101', HOST, '2250']);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/Written 1 references/);
      expect(a.simulator.values()['zone1-sp']).toBe(225);
      expect(a.bank.read('holding', 100, 1)).toEqual([2250]);

      const tooHot = await mbpoll(a.port, ['-a', '1', '-t', '4', '-r', '101', HOST, '2500']);
      expect(tooHot.code).not.toBe(0);
      expect(tooHot.stderr).toMatch(/Illegal data value/);
      const readOnly = await mbpoll(a.port, ['-a', '1', '-t', '4', '-r', '111', HOST, '1']);
      expect(readOnly.stderr).toMatch(/Illegal data address/);
      const gap = await mbpoll(a.port, ['-a', '1', '-t', '3', '-r', '16', '-c', '4', HOST]);
      expect(gap.stderr).toMatch(/Illegal data address/);
      const otherUnit = await mbpoll(a.port, ['-a', '2', '-t', '3', '-r', '1', '-c', '2', HOST]);
      expect(otherUnit.stderr).toMatch(/Target device failed to respond/);
      expect(a.simulator.values()['zone1-sp']).toBe(225);
    });
  });

  it('refuses writes outside the limits or to unwritable addresses with an exception', async () => {
    const a = await agent({ port: 0, model: 'im250', seed: 6, clock: () => T0 });
    const c = await client(a.port);
    const before = a.simulator.values();
    expect(await exceptionOf(c.writeRegister(100, 2600))).toBe(3);
    expect(await exceptionOf(c.writeRegisters(100, [2300, 9999]))).toBe(3);
    expect(await exceptionOf(c.writeRegister(110, 0x4142))).toBe(2);
    expect(await exceptionOf(c.writeRegister(105, 1))).toBe(2);
    expect(await exceptionOf(c.writeRegister(4000, 1))).toBe(2);
    expect(await exceptionOf(c.writeCoil(1, false))).toBe(2);
    expect(await exceptionOf(c.readInputRegisters(40, 2))).toBe(2);
    expect(a.simulator.values()).toEqual(before);
    expect(await exceptionOf(c.writeRegisters(101, [2050, 450]))).toBe(0);
    expect(a.simulator.values()).toMatchObject({ 'zone2-sp': 205, 'hold-sp': 450 });
    const other = await client(a.port, 7);
    expect(await exceptionOf(other.readInputRegisters(0, 2))).toBe(11);
  });

  it('survives malformed frames and abrupt disconnects', async () => {
    const a = await agent({ port: 0, model: 'im250', seed: 2 });
    const rand = mulberry32(99);
    const byte = (): number => Math.floor(rand() * 256);
    for (let round = 0; round < 20; round++) {
      const sock = connect(a.port, HOST);
      sock.on('error', () => undefined);
      await new Promise<void>((res) => sock.once('connect', () => res()));
      for (let i = 0; i < 10; i++) {
        // A well-formed MBAP header around a random PDU (random function code, address, count).
        const pdu = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 12) }, byte));
        const mbap = Buffer.alloc(7);
        mbap.writeUInt16BE(i, 0);
        mbap.writeUInt16BE(pdu.length + 1, 4);
        mbap[6] = rand() < 0.8 ? 1 : byte();
        sock.write(Buffer.concat([mbap, pdu]));
      }
      sock.write(Buffer.from(Array.from({ length: 9 }, byte)));
      await new Promise((r) => setTimeout(r, 5));
      if (round % 2) sock.resetAndDestroy();
      else sock.destroy();
    }
    const c = await client(a.port);
    expect((await c.readInputRegisters(0, 3)).data).toHaveLength(3);
  });

  it('stop() closes every client and releases the port', async () => {
    const a = await startAgent({ port: 0, model: 'hp200', seed: 1 });
    const c = await client(a.port);
    const closed = new Promise<void>((res) => c.on('close', () => res()));
    await a.stop();
    await a.stop();
    await Promise.race([closed, new Promise((_, rej) => setTimeout(() => rej(new Error('client not closed in 2 s')), 2000))]);
    expect(await canBind(a.port)).toBe(true);
    const again = await agent({ port: a.port, model: 'hp200' });
    expect(again.port).toBe(a.port);
    await expect(startAgent({ port: a.port })).rejects.toThrow(ConsoleError);
    await expect(startAgent({ port: a.port })).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
  });
});

describe('device-agent CLI', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) } };
  };

  it.each([
    [['--modbus-port', '0'], '--modbus-port must be 1–65535'],
    [['--modbus-port', '70000'], '--modbus-port must be 1–65535'],
    [['--modbus-port', 'x'], '--modbus-port must be 1–65535'],
    [['--modbus-port', '5020', '--unit-id', '0'], '--unit-id must be 1–247'],
    [['--modbus-port', '5020', '--seed', '-1'], '--seed must be 0–4294967295'],
    [['--modbus-port'], '--modbus-port needs a value'],
    [['--port', '5020'], 'unknown option "--port": did you mean --modbus-port? (see "device-agent --help")'],
    [[], '--modbus-port is required, or --rtu-path or --rtu-tcp-port'],
    [['--modbus-port', '5020', '--model', 'zz9'], 'No built-in profile "zz9"'],
  ])('%j → exit 2: %s', async (argv, message) => {
    const t = io();
    expect(await runDeviceAgentCli(argv, t.io)).toBe(2);
    expect(t.err).toHaveLength(1);
    expect(t.err[0]).toContain(`device-agent: ${message}`);
  });

  it('prints help', async () => {
    const t = io();
    expect(await runDeviceAgentCli(['--help'], t.io)).toBe(0);
    expect(t.out.join('\n')).toMatch(/--modbus-port N/);
  });

  it('serves until told to stop, then frees the port', async () => {
    const port = await freePort();
    const t = io();
    let stop!: () => void;
    const stopSignal = new Promise<void>((res) => (stop = res));
    const done = runDeviceAgentCli(['--modbus-port', String(port), '--model=pk60', '--unit-id', '3', '--seed', '9'], {
      ...t.io,
      stopSignal,
    });
    for (let i = 0; i < 100 && t.out.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(t.out[0]).toBe(`device-agent: PK-60 (pk60) unit 3 serving Modbus TCP on 127.0.0.1:${port} — SIMULATED`);
    const c = await client(port, 3);
    expect((await c.readInputRegisters(0, 1)).data).toHaveLength(1);
    stop();
    expect(await done).toBe(0);
    expect(await canBind(port)).toBe(true);
  });

  it('stops on SIGTERM and removes its signal handlers', async () => {
    const port = await freePort();
    const t = io();
    const before = process.listenerCount('SIGTERM');
    const beforeInt = process.listenerCount('SIGINT');
    const done = runDeviceAgentCli(['--modbus-port', String(port), '--model', 'hp200'], t.io);
    for (let i = 0; i < 100 && t.out.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(t.out[0]).toMatch(/^device-agent: HP-200 \(hp200\) unit 1 serving/);
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    // Only the CLI's own handler runs: the test process is not signalled.
    process.emit('SIGTERM', 'SIGTERM');
    expect(await done).toBe(0);
    expect(process.listenerCount('SIGTERM')).toBe(before);
    expect(process.listenerCount('SIGINT')).toBe(beforeInt);
    expect(await canBind(port)).toBe(true);
  });
});
