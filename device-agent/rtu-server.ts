/**
 * Several simulated units on one line, as a Modbus slave of our own: RTU on a serial port
 * (for tests, one end of a socat pty pair), RTU framed over TCP (a serial device server), or
 * Modbus TCP with several unit ids behind one address (a gateway). Each unit has its own
 * simulator and register bank, or serves one it is given.
 *
 * For fault tests a unit can be dead (RTU: silent, as a unit missing from the bus; gateway:
 * silent or exception 11, as gateways answer for a unit that did not respond), and the next
 * requests to a unit can be answered wrongly on purpose (`inject`). A real RTU slave ignores
 * frames with a bad CRC, frames for other units and other slaves' answers, and frames by
 * silence on a shared line; this one does the same (rtu-receiver.ts).
 */
import { randomInt } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { loadProfile, packageRoot } from '../src-main/config/load';
import type { Profile } from '../src-main/config/schema';
import { ConsoleError } from '../src-main/core/errors';
import { silentLogger, type Logger } from '../src-main/core/log';
import { loadSerialPort } from '../src-main/modbus/streams';
import { startSimulation, type Simulation } from './agent';
import { createDispatch, mbapReceiver, type SimUnit, type Sink, type UnitFault } from './line-protocol';
import { rtuGapMs, rtuReceiver } from './rtu-receiver';

export { answerPdu, type SimUnit, type UnitFault } from './line-protocol';

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

/** RTU over TCP: the silence after which a partial frame is dropped (TCP has no character timing). */
const TCP_GAP_MS = 20;

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
  const serve = createDispatch({ framing, units, lateMs, later });
  const serves = (unitId: number): boolean => units.has(unitId);

  let conns = 0;
  let closeTransport: () => Promise<void>;
  let port: number | null = null;
  if (opts.path !== undefined) {
    const SerialPort = await loadSerialPort();
    const sp = new SerialPort({ path: opts.path, baudRate: opts.baudRate ?? 19200, autoOpen: false });
    sp.on('error', (err: Error) => log.log('debug', 'device-agent: serial error', { error: err.message }));
    const rx = rtuReceiver(
      serve,
      { write: (b) => void sp.write(b), writeAndClose: (b) => void sp.write(b) },
      { serves, gapMs: rtuGapMs(opts.baudRate ?? 19200) },
    );
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
      // One master per connection: nothing foreign arrives, so silence only clears what a frame left.
      const rx = framing === 'mbap' ? mbapReceiver(serve, sink) : rtuReceiver(serve, sink, { serves, gapMs: TCP_GAP_MS });
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
