/**
 * The plant-scale bench's baseline (scripts/plant-bench.ts), in a process of its own: plain
 * modbus-serial, one client per device, reading REGISTERS holding registers in blocks of 125 on a
 * fixed start-to-start schedule (a start whose slot has passed is skipped, as the console does).
 * Nothing is decoded or kept: the least any master must do for the same schedule.
 *
 *   node out/main/plain-loop.js --ports 5020,5021 --registers 250 --interval 50
 *
 * On the line "report" on stdin it prints its counters as one JSON line (polls, points,
 * overruns, lateness percentiles of the starts against their slots), "reset" zeroes them.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import ModbusRTU from 'modbus-serial';
import { LatenessHistogram } from '../src-main/modbus/schedule';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ports: { type: 'string' },
      registers: { type: 'string', default: '250' },
      interval: { type: 'string', default: '50' },
    },
  });
  const ports = (values.ports ?? '').split(',').map(Number);
  const registers = Number(values.registers);
  const interval = Number(values.interval);
  let polls = 0;
  let points = 0;
  let overruns = 0;
  const lateness = new LatenessHistogram();
  const clients = await Promise.all(
    ports.map(async (port) => {
      const c = new ModbusRTU();
      await c.connectTCP('127.0.0.1', { port });
      c.setID(1);
      c.setTimeout(1000);
      return c;
    }),
  );
  for (const client of clients) {
    let due = performance.now();
    const cycle = async (): Promise<void> => {
      lateness.add(performance.now() - due);
      for (let a = 0; a < registers; a += 125) await client.readHoldingRegisters(a, Math.min(125, registers - a));
      polls++;
      points += registers;
      due += interval;
      const now = performance.now();
      // Missed slots are skipped, not run back to back.
      if (now > due) {
        const missed = Math.ceil((now - due) / interval);
        overruns += missed;
        due += missed * interval;
      }
      setTimeout(() => void cycle().catch(fail), due - now);
    };
    void cycle().catch(fail);
  }
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'reset') {
      polls = points = overruns = 0;
      lateness.reset();
    } else if (line === 'report') {
      process.stdout.write(`${JSON.stringify({ polls, points, overruns, lateness: lateness.summary() })}\n`);
    }
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
}

function fail(err: unknown): void {
  process.stderr.write(`plain-loop: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

void main().catch(fail);
