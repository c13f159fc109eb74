/**
 * Several simulated units on one line, as a Modbus slave of our own: RTU on a serial port
 * (for tests, one end of a socat pty pair), RTU framed over TCP (a serial device server), or
 * Modbus TCP with several unit ids behind one address (a gateway). Each unit has its own
 * simulator and register bank, or serves one it is given.
 *
 * For fault tests a unit can be dead (RTU: silent, as a unit missing from the bus; gateway:
 * silent or exception 11, as gateways answer for a unit that did not respond), and the next
 * requests to a unit can be answered wrongly on purpose (`inject`). A real RTU slave ignores
 * frames with a bad CRC and frames for other units; this one does the same.
 */
import { randomInt } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { loadProfile, packageRoot } from '../src-main/config/load';
import type { Profile } from '../src-main/config/schema';
import { ConsoleError } from '../src-main/core/errors';
import { silentLogger, type Logger } from '../src-main/core/log';
import { crc16, rtuFrame } from '../src-main/modbus/framing';
import { loadSerialPort } from '../src-main/modbus/streams';
import type { PointFunction } from '../src-preload/contract';
import { startSimulation, type Simulation } from './agent';
import { ModbusException, type RegisterBank } from './register-bank';
import type { Simulator } from './simulator';

/** A deliberate misbehaviour for the next request(s) to a unit. */
export type UnitFault =
  'silent' | 'late' | 'short' | 'bad-crc' | 'wrong-unit' | 'wrong-function' | 'bad-bytecount' | 'exception' | 'garbage' | 'close-mid-frame';

export interface LineUnitOptions {
  unitId: number;
  /** Built-in profile to simulate; im250 unless given. */
  model?: string;
  profile?: Profile;
  seed?: number;
  /** Serve this running simulation (e.g. one a TCP agent serves too) instead of starting one. */
  simulation?: Pick<Simulation, 'simulator' | 'bank'>;
  /** Never answers (`true`), or, behind a gateway, is answered with exception 11 (`'exception'`). */
  dead?: boolean | 'exception';
}

export interface LineServerOptions {
  units: LineUnitOptions[];
  /** Serial device path: RTU on a serial port. */
  path?: string;
  baudRate?: number;
  /** TCP port (0: a free one): RTU over TCP, or Modbus TCP with `framing: 'mbap'`. */
  port?: number;
  host?: string;
  framing?: 'rtu' | 'mbap';
  /** How late a `late` fault answers, ms (default 300). */
  lateMs?: number;
  tickMs?: number;
  clock?: () => number;
  logger?: Logger;
}

export interface SimUnit {
  readonly unitId: number;
  readonly model: string;
  readonly simulator: Simulator;
  readonly bank: RegisterBank;
  dead: boolean | 'exception';
  /** Requests addressed to this unit so far (dead or not). */
  requests: number;
  readonly faults: UnitFault[];
}

export interface LineServer {
  readonly framing: 'rtu' | 'mbap';
  /** The TCP port served, or null on a serial line. */
  readonly port: number | null;
  readonly path: string | null;
  readonly units: ReadonlyMap<number, SimUnit>;
  /** The next `count` requests to `unitId` are answered as `fault` says. */
  inject(unitId: number, fault: UnitFault, count?: number): void;
  setDead(unitId: number, dead: boolean | 'exception'): void;
  /** Requests received for `unitId`, or for every unit. */
  requests(unitId?: number): number;
  /** TCP connections accepted so far (0 on a serial line). */
  connections(): number;
  /** Closes the port or listener, every connection and timer, and the simulations it started. */
  stop(): Promise<void>;
}

const FN: Record<number, PointFunction> = { 1: 'coil', 2: 'discrete', 3: 'holding', 4: 'input' };

/** The answer PDU of `bank` to the request PDU `pdu` (an exception PDU when refused). */
export function answerPdu(bank: RegisterBank, pdu: Buffer): Buffer {
  const fc = pdu[0] ?? 0;
  try {
    if (pdu.length < 5) throw new ModbusException(3, 'request too short');
    const addr = pdu.readUInt16BE(1);
    const qty = pdu.readUInt16BE(3);
    const fn = FN[fc];
    if (fn) {
      if (qty < 1 || qty > (fc <= 2 ? 2000 : 125)) throw new ModbusException(3, `quantity ${qty}`);
      const values = bank.read(fn, addr, qty);
      if (fc <= 2) {
        const out = Buffer.alloc(2 + Math.ceil(qty / 8));
        values.forEach((v, i) => {
          if (v) out[2 + (i >> 3)]! |= 1 << (i & 7);
        });
        out[0] = fc;
        out[1] = out.length - 2;
        return out;
      }
      const out = Buffer.alloc(2 + qty * 2);
      out[0] = fc;
      out[1] = qty * 2;
      values.forEach((v, i) => out.writeUInt16BE(v, 2 + i * 2));
      return out;
    }
    if (fc === 5) {
      if (qty !== 0xff00 && qty !== 0) throw new ModbusException(3, 'a coil is written as FF00 or 0000');
      bank.writeCoil(addr, qty === 0xff00);
    } else if (fc === 6) {
      bank.writeRegisters(addr, [qty]);
    } else if (fc === 15 || fc === 16) {
      const bytes = pdu[5] ?? -1;
      const want = fc === 15 ? Math.ceil(qty / 8) : qty * 2;
      if (qty < 1 || bytes !== want || pdu.length !== 6 + bytes) throw new ModbusException(3, 'byte count does not match the quantity');
      if (fc === 15) for (let i = 0; i < qty; i++) bank.writeCoil(addr + i, ((pdu[6 + (i >> 3)]! >> (i & 7)) & 1) === 1);
      else
        bank.writeRegisters(
          addr,
          Array.from({ length: qty }, (_, i) => pdu.readUInt16BE(6 + i * 2)),
        );
    } else {
      throw new ModbusException(1, `function ${fc}`);
    }
    return Buffer.from(pdu.subarray(0, 5));
  } catch (err) {
    const code = err instanceof ModbusException ? err.modbusErrorCode : 4;
    return Buffer.from([fc | 0x80, code]);
  }
}

/** Length of the RTU request frame starting `buf`; null until known, -1 for a function we do not serve. */
function requestLength(buf: Buffer): number | null {
  if (buf.length < 2) return null;
  const fc = buf[1]!;
  if (fc >= 1 && fc <= 6) return 8;
  if (fc === 15 || fc === 16) return buf.length < 7 ? null : 9 + buf[6]!;
  return -1;
}

interface Sink {
  write(b: Buffer): void;
  /** Writes `b`, then drops the connection (only TCP can). */
  writeAndClose(b: Buffer): void;
}

/** Starts a line of simulated units: RTU on `path`, RTU over TCP on `port`, or a gateway (`framing: 'mbap'`). */
export async function startRtuLine(opts: LineServerOptions): Promise<LineServer> {
  const framing = opts.framing ?? 'rtu';
  const log = opts.logger ?? silentLogger;
  const lateMs = opts.lateMs ?? 300;
  if ((opts.path === undefined) === (opts.port === undefined)) {
    throw new ConsoleError('BAD_REQUEST', 'a line is served either on a serial path or on a TCP port');
  }
  if (framing === 'mbap' && opts.path !== undefined) throw new ConsoleError('BAD_REQUEST', 'Modbus TCP needs a TCP port');
  const owned: Simulation[] = [];
  const units = new Map<number, SimUnit>();
  for (const u of opts.units) {
    if (!Number.isInteger(u.unitId) || u.unitId < 1 || u.unitId > 247)
      throw new ConsoleError('BAD_REQUEST', `unit id must be 1–247, not ${u.unitId}`);
    if (units.has(u.unitId)) throw new ConsoleError('BAD_REQUEST', `unit ${u.unitId} is on this line twice`);
    let sim = u.simulation;
    if (!sim) {
      const profile = u.profile ?? loadProfile(`builtin:${u.model ?? 'im250'}`, packageRoot());
      const started = startSimulation({
        profile,
        seed: u.seed ?? randomInt(0x7fffffff),
        tickMs: opts.tickMs ?? 100,
        clock: opts.clock ?? Date.now,
        logger: log,
      });
      owned.push(started);
      sim = started;
    }
    units.set(u.unitId, {
      unitId: u.unitId,
      model: sim.bank.profile.model,
      simulator: sim.simulator,
      bank: sim.bank,
      dead: u.dead ?? false,
      requests: 0,
      faults: [],
    });
  }
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  /** Answers one request PDU for `unitId` through `sink`, applying death and injected faults. */
  function serve(unitId: number, pdu: Buffer, sink: Sink, frame: (unit: number, answer: Buffer) => Buffer): void {
    const unit = units.get(unitId);
    if (!unit) {
      // RTU: nobody at that address stays silent. A gateway says it got no answer.
      if (framing === 'mbap') sink.write(frame(unitId, Buffer.from([(pdu[0] ?? 0) | 0x80, 11])));
      return;
    }
    unit.requests++;
    if (unit.dead === 'exception' && framing === 'mbap') return sink.write(frame(unitId, Buffer.from([(pdu[0] ?? 0) | 0x80, 11])));
    if (unit.dead) return;
    const answer = answerPdu(unit.bank, pdu);
    const fault = unit.faults.shift();
    if (!fault) return sink.write(frame(unitId, answer));
    const fc = answer[0]!;
    switch (fault) {
      case 'silent':
        return;
      case 'late':
        return later(lateMs, () => sink.write(frame(unitId, answer)));
      case 'short': {
        // Modbus TCP: a consistent header around cut data. RTU: the frame stops halfway.
        if (framing === 'mbap') return sink.write(frame(unitId, answer.subarray(0, 2 + Math.floor((answer.length - 2) / 2))));
        const full = frame(unitId, answer);
        return sink.write(full.subarray(0, Math.ceil(full.length / 2)));
      }
      case 'bad-crc': {
        if (framing === 'mbap') return sink.write(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0, 3, 1, 0x41, 0]));
        const f = frame(unitId, answer);
        f[f.length - 1]! ^= 0x5a;
        return sink.write(f);
      }
      case 'wrong-unit':
        return sink.write(frame((unitId % 247) + 1, answer));
      case 'wrong-function': {
        const a = Buffer.from(answer);
        a[0] = fc === 3 ? 4 : 3;
        return sink.write(frame(unitId, a));
      }
      case 'bad-bytecount': {
        // A consistent frame (valid CRC) whose byte count does not fit the request.
        const a = Buffer.concat([answer, Buffer.alloc(2)]);
        a[1] = (answer[1] ?? 0) + 2;
        return sink.write(frame(unitId, a));
      }
      case 'exception':
        return sink.write(frame(unitId, Buffer.from([(pdu[0] ?? 0) | 0x80, 4])));
      case 'garbage': {
        const junk = Buffer.alloc(5 + randomInt(12));
        for (let i = 0; i < junk.length; i++) junk[i] = randomInt(256);
        junk[1] = 0x41; // no function code we send, so it can never pass for a frame
        return sink.write(junk);
      }
      case 'close-mid-frame': {
        const full = frame(unitId, answer);
        return sink.writeAndClose(full.subarray(0, Math.ceil(full.length / 2)));
      }
    }
  }

  /** An RTU request parser for one stream: frames by length, drops bad CRC and stale partial input. */
  function rtuReceiver(sink: Sink): { feed(chunk: Buffer): void; close(): void } {
    let buf: Buffer = Buffer.alloc(0);
    let quiet: NodeJS.Timeout | null = null;
    const frame = (unit: number, answer: Buffer) => rtuFrame(unit, answer);
    return {
      feed(chunk) {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        // Each pass consumes one frame or stops: bounded by the bytes received.
        while (buf.length >= 2) {
          const len = requestLength(buf);
          if (len === -1 || (len !== null && len > 256)) {
            buf = Buffer.alloc(0);
            break;
          }
          if (len === null || buf.length < len) break;
          const f = buf.subarray(0, len);
          buf = buf.subarray(len);
          if (crc16(f.subarray(0, len - 2)) !== f.readUInt16LE(len - 2)) {
            buf = Buffer.alloc(0);
            break;
          }
          serve(f[0]!, Buffer.from(f.subarray(1, len - 2)), sink, frame);
        }
        if (quiet) clearTimeout(quiet);
        quiet = null;
        if (buf.length > 0) {
          // A partial frame followed by silence is noise: forget it.
          quiet = setTimeout(() => {
            quiet = null;
            buf = Buffer.alloc(0);
          }, 20);
        }
      },
      close() {
        if (quiet) clearTimeout(quiet);
        quiet = null;
      },
    };
  }

  /** A Modbus TCP request parser for one connection. */
  function mbapReceiver(sink: Sink): { feed(chunk: Buffer): void; close(): void } {
    let buf: Buffer = Buffer.alloc(0);
    return {
      feed(chunk) {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        while (buf.length >= 7) {
          const len = buf.readUInt16BE(4);
          if (buf.readUInt16BE(2) !== 0 || len < 2 || len > 254) {
            buf = Buffer.alloc(0);
            break;
          }
          if (buf.length < 6 + len) break;
          const tid = buf.readUInt16BE(0);
          const unit = buf.readUInt8(6);
          const pdu = Buffer.from(buf.subarray(7, 6 + len));
          buf = buf.subarray(6 + len);
          serve(unit, pdu, sink, (u, answer) => {
            const head = Buffer.alloc(7);
            head.writeUInt16BE(tid, 0);
            head.writeUInt16BE(0, 2);
            head.writeUInt16BE(answer.length + 1, 4);
            head.writeUInt8(u, 6);
            return Buffer.concat([head, answer]);
          });
        }
      },
      close: () => undefined,
    };
  }

  let conns = 0;
  let closeTransport: () => Promise<void>;
  let port: number | null = null;
  if (opts.path !== undefined) {
    const SerialPort = await loadSerialPort();
    const sp = new SerialPort({ path: opts.path, baudRate: opts.baudRate ?? 19200, autoOpen: false });
    sp.on('error', (err: Error) => log.log('debug', 'device-agent: serial error', { error: err.message }));
    const rx = rtuReceiver({ write: (b) => void sp.write(b), writeAndClose: (b) => void sp.write(b) });
    sp.on('data', (chunk: Buffer) => rx.feed(chunk));
    try {
      await new Promise<void>((res, rej) => sp.open((err) => (err ? rej(err) : res())));
    } catch (err) {
      for (const s of owned) s.stop();
      throw new ConsoleError('UNAVAILABLE', `device-agent: cannot open ${opts.path} (${(err as Error).message})`, { cause: err });
    }
    closeTransport = () =>
      new Promise<void>((res) => {
        rx.close();
        if (sp.isOpen) sp.close(() => res());
        else res();
      });
  } else {
    const sockets = new Set<Socket>();
    const server: Server = createServer((sock) => {
      conns++;
      sockets.add(sock);
      sock.setNoDelay(true);
      const sink: Sink = {
        write: (b) => void (sock.destroyed || sock.write(b)),
        writeAndClose: (b) => void (sock.destroyed || sock.write(b, () => sock.destroy())),
      };
      const rx = framing === 'mbap' ? mbapReceiver(sink) : rtuReceiver(sink);
      sock.on('data', (chunk: Buffer) => rx.feed(chunk));
      sock.on('error', () => undefined);
      sock.on('close', () => {
        rx.close();
        sockets.delete(sock);
      });
    });
    try {
      await new Promise<void>((res, rej) => {
        server.once('error', rej);
        server.listen(opts.port, opts.host ?? '127.0.0.1', () => res());
      });
    } catch (err) {
      for (const s of owned) s.stop();
      throw new ConsoleError(
        'UNAVAILABLE',
        `device-agent: cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        { cause: err },
      );
    }
    port = (server.address() as AddressInfo).port;
    closeTransport = () =>
      new Promise<void>((res) => {
        server.close(() => res());
        for (const s of sockets) s.destroy();
      });
  }

  let stopping: Promise<void> | undefined;
  return {
    framing,
    port,
    path: opts.path ?? null,
    units,
    inject(unitId, fault, count = 1) {
      const u = units.get(unitId);
      if (!u) throw new ConsoleError('NOT_FOUND', `no unit ${unitId} on this line`);
      for (let i = 0; i < count; i++) u.faults.push(fault);
    },
    setDead(unitId, dead) {
      const u = units.get(unitId);
      if (!u) throw new ConsoleError('NOT_FOUND', `no unit ${unitId} on this line`);
      u.dead = dead;
    },
    requests: (unitId) =>
      unitId === undefined ? [...units.values()].reduce((n, u) => n + u.requests, 0) : (units.get(unitId)?.requests ?? 0),
    connections: () => conns,
    stop() {
      stopping ??= (async () => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const s of owned) s.stop();
        await closeTransport();
      })();
      return stopping;
    },
  };
}
