/**
 * The device agent's RTU server on a shared line where every station hears every other
 * (test/helpers/shared-line.ts): two agents (units 2 and 3) and a pymodbus slave (unit 1, an
 * implementation this project did not write) on one relay, read by the console and by mbpoll
 * (libmodbus) as masters. The answers the agents hear from the other slaves — 5 to 9 bytes,
 * shorter than or as long as a request — must never cost them the request that follows.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRtuLine, type LineServer } from '../../device-agent/rtu-server';
import type { ConsoleError } from '../../src-main/core/errors';
import { LinePool, type ModbusLine } from '../../src-main/modbus/line';
import { describeNeeding, itNeeding } from '../helpers/needs-package';
import { haveRelay, PYTHON, startSharedLine, type SharedLine } from '../helpers/shared-line';

const MBPOLL = '/usr/bin/mbpoll';
const havePymodbus = haveRelay() && existsSync('/usr/lib/python3/dist-packages/pymodbus');

/** Unit 1: holding 0–19 hold 100 + address; coils 0–7 alternate; anything else is exception 2. */
const SLAVE_PY = `
import asyncio, sys
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server.async_io import ModbusSerialServer
from pymodbus.transaction import ModbusRtuFramer

async def main():
    unit = ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, [100 + i for i in range(20)]),
                              co=ModbusSequentialDataBlock(0, [1, 0] * 4), zero_mode=True)
    context = ModbusServerContext(slaves={1: unit}, single=False)
    server = ModbusSerialServer(context, ModbusRtuFramer, port=sys.argv[1], baudrate=115200, ignore_missing_slaves=True)
    await server.start()
    print("READY", flush=True)
    while True:
        await asyncio.sleep(3600)

asyncio.run(main())
`;

let bus: SharedLine;
let agents: LineServer[] = [];
let pymodbus: ChildProcess | null = null;

async function startPymodbus(port: string): Promise<ChildProcess> {
  const child = spawn(PYTHON, ['-c', SLAVE_PY, port], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => void (err.length < 4000 && (err += d.toString())));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pymodbus did not start: ${err}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (!d.toString().includes('READY')) return;
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`pymodbus exited with ${code}: ${err}`)));
  });
  return child;
}

beforeAll(async () => {
  if (!havePymodbus) return;
  // Stations: 0 the console, 1 and 2 the agents, 3 pymodbus, 4 mbpoll.
  bus = await startSharedLine(5);
  const tick = 3_600_000;
  agents = [
    await startRtuLine({ path: bus.ports[1]!, baudRate: 115200, tickMs: tick, units: [{ unitId: 2, model: 'pk60', seed: 2 }] }),
    await startRtuLine({ path: bus.ports[2]!, baudRate: 115200, tickMs: tick, units: [{ unitId: 3, model: 'hp200', seed: 3 }] }),
  ];
  pymodbus = await startPymodbus(bus.ports[3]!);
}, 30_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  pymodbus?.kill('SIGKILL');
  await bus?.stop();
});

const bank = (unit: 2 | 3) => agents[unit - 2]!.units.get(unit)!.bank;

describeNeeding(
  ['python3-pymodbus', 'python3-serial-asyncio', 'socat'],
  havePymodbus,
  'the agent on a shared RTU line (every station hears every other)',
  () => {
    it("answers every request after another slave's short answer, exception or echo, as pymodbus does", async () => {
      const pool = new LinePool();
      const line: ModbusLine = pool.acquire({
        type: 'rtu',
        path: bus.ports[0]!,
        baudRate: 115200,
        parity: 'none',
        dataBits: 8,
        stopBits: 1,
      });
      // pymodbus frames by length only: it gets a little more quiet before its requests than 3.5 characters.
      const slow = { timeoutMs: 300, interFrameDelayMs: 5 };
      const agent = { timeoutMs: 300 };
      const failures: string[] = [];
      const expectRead = async (what: string, read: () => Promise<number[]>, want: () => number[]): Promise<void> => {
        try {
          const values = await read();
          if (JSON.stringify(values) !== JSON.stringify(want())) failures.push(`${what}: ${JSON.stringify(values)}`);
          return;
        } catch (err) {
          failures.push(`${what}: ${(err as ConsoleError).code} ${(err as Error).message}`);
        }
      };
      try {
        const rounds = 15;
        for (let r = 0; r < rounds; r++) {
          // A 7-byte answer (one register) from unit 1, then unit 2 at once.
          await expectRead(
            `round ${r} unit 1 holding ${r}`,
            () => line.read(1, 'holding', r, 1, slow),
            () => [100 + r],
          );
          await expectRead(
            `round ${r} unit 2 input 0–7`,
            () => line.read(2, 'input', 0, 8, agent),
            () => bank(2).read('input', 0, 8),
          );
          // A 5-byte exception from unit 1, then unit 3.
          const exc = await line.read(1, 'holding', 50, 1, slow).then(
            () => 'answered',
            (e: ConsoleError) => e.code,
          );
          if (exc !== 'MODBUS_EXCEPTION') failures.push(`round ${r} unit 1 holding 50: ${exc}`);
          await expectRead(
            `round ${r} unit 3 holding 0–3`,
            () => line.read(3, 'holding', 0, 4, agent),
            () => bank(3).read('holding', 0, 4),
          );
          // A 6-byte answer (coils) from unit 1, then an 8-byte write echo from unit 2, then unit 3 and unit 2 again.
          await expectRead(
            `round ${r} unit 1 coils`,
            () => line.read(1, 'coil', 0, 3, slow),
            () => [1, 0, 1],
          );
          const sp = bank(2).read('holding', 0, 1);
          await line
            .write(2, { function: 'holding', address: 0, values: sp, fc: 6 }, agent)
            .catch((e: Error) => failures.push(`round ${r} write: ${e.message}`));
          await expectRead(
            `round ${r} unit 3 holding 2–3`,
            () => line.read(3, 'holding', 2, 2, agent),
            () => bank(3).read('holding', 2, 2),
          );
          await expectRead(
            `round ${r} unit 2 holding 0–1`,
            () => line.read(2, 'holding', 0, 2, agent),
            () => bank(2).read('holding', 0, 2),
          );
        }
        expect(failures).toEqual([]);
        expect(agents[0]!.requests(2)).toBeGreaterThanOrEqual(rounds * 3);
      } finally {
        await pool.release(line);
      }
    });

    itNeeding(['mbpoll'], existsSync(MBPOLL), 'answers a libmodbus master (mbpoll) polling it and pymodbus in turn', async () => {
      // What the line carried while nobody had mbpoll's end open is not for it.
      await bus.flush(4);
      const before = agents[0]!.requests(2);
      const addresses = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 1 : 2)).join(',');
      const out = await new Promise<string>((resolve) => {
        execFile(
          MBPOLL,
          [
            '-m',
            'rtu',
            '-b',
            '115200',
            '-P',
            'none',
            '-a',
            addresses,
            '-0',
            '-r',
            '0',
            '-c',
            '2',
            '-t',
            '4',
            '-o',
            '2',
            '-1',
            bus.ports[4]!,
          ],
          { timeout: 20_000 },
          (_err, stdout, stderr) => resolve(`${stdout}${stderr}`),
        );
      });
      // Each slave answers its five polls: pymodbus 100 and 101, the agent its set points.
      const sp = bank(2).read('holding', 0, 2);
      const answers = [...out.matchAll(/-- Polling slave (\d+)[^\n]*\n((?:\[\d+\]:\s*-?\d+\s*\n)+)/g)].map((m) => [
        Number(m[1]),
        [...m[2]!.matchAll(/\[\d+\]:\s*(-?\d+)/g)].map((v) => Number(v[1])),
      ]);
      expect(out).not.toMatch(/timed out|failed/i);
      expect(answers).toEqual(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? [1, [100, 101]] : [2, sp])));
      expect(agents[0]!.requests(2) - before).toBe(5);
    });
  },
);
