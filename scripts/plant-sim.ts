/**
 * The plant-scale bench's equipment (scripts/plant-bench.ts), in a process of its own: N Modbus
 * TCP servers (modbus-serial `ServerTCP`, one port each on 127.0.0.1), each with REGISTERS
 * holding registers whose values change all the time: slow sines with a few counts of noise,
 * plus counters. A register's value is computed when it is read, so every poll sees new values
 * whatever the poll rate.
 *
 *   node out/main/plant-sim.js --devices 10 --registers 250
 *
 * Prints one JSON line `{"ports":[…]}` once every server listens; exits when stdin closes.
 */
import { parseArgs } from 'node:util';
import { ServerTCP } from 'modbus-serial';
import { freePort } from './free-port';

/** Register `i` of device `d` at time `t` (ms): what the bench's profile reads as uint16. */
export function simulatedRegister(d: number, i: number, t: number, noise: number): number {
  // Every tenth register is a counter (one count per 50 ms); the others wander around a level.
  if (i % 10 === 9) return Math.floor(t / 50 + d * 1000 + i) & 0xffff;
  const level = 1000 + ((i * 37 + d * 101) % 4000);
  const period = 20_000 + ((i * 7919) % 40_000);
  return (level + Math.round(200 * Math.sin((2 * Math.PI * t) / period + i)) + noise) & 0xffff;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { devices: { type: 'string', default: '10' }, registers: { type: 'string', default: '250' } },
  });
  const devices = Number(values.devices);
  const registers = Number(values.registers);
  // A tiny xorshift: ±3 counts of noise, the same sequence every run.
  let seed = 0x9e3779b9;
  const noise = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) % 7) - 3;
  };
  const servers: ServerTCP[] = [];
  const ports: number[] = [];
  for (let d = 0; d < devices; d++) {
    const port = await freePort();
    const read = (addr: number, len: number): number[] => {
      if (addr + len > registers) throw Object.assign(new Error('illegal data address'), { modbusErrorCode: 2 });
      const t = Date.now();
      const out = new Array<number>(len);
      for (let k = 0; k < len; k++) out[k] = simulatedRegister(d, addr + k, t, noise());
      return out;
    };
    const server = new ServerTCP(
      {
        getHoldingRegister: (addr: number) => read(addr, 1)[0]!,
        getMultipleHoldingRegisters: read,
        getInputRegister: (addr: number) => read(addr, 1)[0]!,
        getMultipleInputRegisters: read,
        getCoil: () => false,
        getDiscreteInput: () => false,
      },
      { host: '127.0.0.1', port, unitID: 1 },
    );
    await new Promise<void>((res, rej) => {
      server.once('initialized', () => res());
      server.once('serverError', rej);
    });
    servers.push(server);
    ports.push(port);
  }
  process.stdout.write(`${JSON.stringify({ ports })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

void main().catch((err: unknown) => {
  process.stderr.write(`plant-sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
