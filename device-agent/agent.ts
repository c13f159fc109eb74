/**
 * A device agent serving one simulated machine over Modbus TCP: the simulator runs on a timer,
 * its values are encoded into the register bank, and modbus-serial's ServerTCP answers from
 * the bank. Cheap enough to run several in the console's own process, and it never throws out
 * of a socket or timer callback.
 *
 * Unit ids: the agent answers only its configured unit id; a request for any other unit gets
 * exception 11 (gateway target device failed to respond), as a Modbus TCP gateway answers for
 * an address with no device behind it, so a misconfigured master fails fast instead of waiting
 * for its timeout.
 *
 * The firmware a module runs is reported with Modbus "Read Device Identification" (FC43/14):
 * vendor, product code (the model) and MajorMinorRevision (the running firmware version), the
 * standard place a master looks for it, so no register of the machine's profile moves.
 */
import { randomInt } from 'node:crypto';
import type { AddressInfo, Server, Socket } from 'node:net';
import { ServerTCP, type IServiceVector } from 'modbus-serial';
import { loadProfile, packageRoot } from '../src-main/config/load';
import type { Profile } from '../src-main/config/schema';
import { ConsoleError } from '../src-main/core/errors';
import { silentLogger, type Logger } from '../src-main/core/log';
import { createRegisterBank, ModbusException, serviceVector, type RegisterBank } from './register-bank';
import { createSimulator, type SimTuning, type Simulator } from './simulator';

/** What FC43/14 (Read Device Identification) answers. */
export interface DeviceIdentification {
  vendor: string;
  /** The product code: the model (im250). */
  productCode: string;
  /** MajorMinorRevision: the running firmware version. */
  revision: string;
}

export interface AgentOptions {
  /** Interface to listen on; 127.0.0.1 unless given. */
  host?: string;
  /** TCP port; 0 picks a free one (see `Agent.port`). */
  port: number;
  /** Built-in profile to simulate (profiles/NAME.json); im250 unless given. */
  model?: string;
  /** A profile to simulate instead of a built-in one. */
  profile?: Profile;
  /** The Modbus unit id answered (1–247); 1 unless given. */
  unitId?: number;
  /** Simulation seed; random unless given. */
  seed?: number;
  /** Simulation tick; 100 ms unless given. */
  tickMs?: number;
  /** Time source in ms; Date.now unless given (a constant clock freezes the machine). */
  clock?: () => number;
  logger?: Logger;
  /** What the running firmware image tunes in the simulation. */
  tuning?: SimTuning;
  /** The running firmware version, answered to FC43/14 as MajorMinorRevision ("unknown" unless given). */
  firmwareVersion?: string;
  /** Called after each read request (any function) was answered without an exception. */
  onRead?: () => void;
}

export interface Agent {
  port: number;
  host: string;
  model: string;
  unitId: number;
  seed: number;
  simulator: Simulator;
  /** The served registers, as a master reads them. */
  bank: RegisterBank;
  /** Remote `address:port` of every Modbus TCP client connected now. */
  clients(): string[];
  /** Closes the listener and every client connection and stops the simulation timer. */
  stop(): Promise<void>;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new ConsoleError('BAD_REQUEST', message);
}

export interface SimulationOptions {
  profile: Profile;
  seed: number;
  /** Simulation tick, ms. */
  tickMs: number;
  clock: () => number;
  logger: Logger;
  tuning?: SimTuning;
}

/** A running simulated machine: its simulator, the register bank served from it, and its tick timer. */
export interface Simulation {
  simulator: Simulator;
  bank: RegisterBank;
  /** Stops the tick timer. */
  stop(): void;
}

/** Starts simulating `profile`: the simulator steps on a timer and its values are encoded into the bank. */
export function startSimulation(opts: SimulationOptions): Simulation {
  const { profile, clock, logger: log } = opts;
  const simulator = createSimulator(profile, { seed: opts.seed, startMs: clock(), ...(opts.tuning ? { tuning: opts.tuning } : {}) });
  const bank = createRegisterBank(profile, (pointId, value) => {
    simulator.setPoint(pointId, value);
    log.log('info', 'device-agent: point written', { model: profile.model, point: pointId, value });
  });
  bank.update(simulator.values());
  let lastFailed = '';
  const timer = setInterval(() => {
    try {
      simulator.step(clock());
      bank.update(simulator.values());
      const failed = bank.encodeErrors().join(',');
      if (failed !== lastFailed && failed) log.log('warn', 'device-agent: values not encodable', { points: failed });
      lastFailed = failed;
    } catch (err) {
      log.log('error', 'device-agent: simulation step failed', { error: (err as Error).message });
    }
  }, opts.tickMs);
  // The agent must not keep a host process alive on its own; the listener does while serving.
  timer.unref();
  return { simulator, bank, stop: () => clearInterval(timer) };
}

/**
 * The service vector over `bank`, with every answered read reported to `onRead` and FC43/14
 * answered from `id` (modbus-serial's type lacks that member, though its server calls it).
 */
function agentVector(bank: RegisterBank, id: DeviceIdentification, unitId: number, onRead: () => void): IServiceVector {
  const observed: RegisterBank = {
    ...bank,
    read(fn, address, count) {
      const words = bank.read(fn, address, count);
      onRead();
      return words;
    },
  };
  const readDeviceIdentification = (unit: number): Record<number, string> => {
    if (unit !== unitId) throw new ModbusException(11, `No unit ${unit} here (this device is unit ${unitId})`);
    onRead();
    return { 0x00: id.vendor, 0x01: id.productCode, 0x02: id.revision };
  };
  return Object.assign(serviceVector(observed, { unitId }), { readDeviceIdentification });
}

/** Starts simulating a machine and serving it over Modbus TCP; resolves once listening. */
export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const host = opts.host ?? '127.0.0.1';
  const unitId = opts.unitId ?? 1;
  const tickMs = opts.tickMs ?? 100;
  const clock = opts.clock ?? Date.now;
  const log = opts.logger ?? silentLogger;
  check(Number.isInteger(opts.port) && opts.port >= 0 && opts.port <= 65535, `port must be 0–65535, not ${opts.port}`);
  check(Number.isInteger(unitId) && unitId >= 1 && unitId <= 247, `unit id must be 1–247, not ${unitId}`);
  check(Number.isFinite(tickMs) && tickMs >= 10, `tick must be at least 10 ms, not ${tickMs}`);
  if (opts.profile && opts.model !== undefined) {
    check(opts.profile.model === opts.model, `model "${opts.model}" does not match the profile's model "${opts.profile.model}"`);
  }
  const profile = opts.profile ?? loadProfile(`builtin:${opts.model ?? 'im250'}`, packageRoot());
  const seed = opts.seed ?? randomInt(0x7fffffff);

  const sim = startSimulation({ profile, seed, tickMs, clock, logger: log, ...(opts.tuning ? { tuning: opts.tuning } : {}) });
  const { simulator, bank } = sim;

  // modbus-serial replaces a falsy port with 502, so an ephemeral port is asked for as the
  // string "0", which net.Server.listen accepts.
  const listenPort = (opts.port === 0 ? '0' : opts.port) as number;
  // Unit filtering is done in the vector (exception 11), so the server itself accepts all units.
  const identification = { vendor: profile.vendor ?? 'unknown', productCode: profile.model, revision: opts.firmwareVersion ?? 'unknown' };
  const vector = agentVector(bank, identification, unitId, opts.onRead ?? (() => undefined));
  const server = new ServerTCP(vector, { host, port: listenPort, unitID: 255 });
  const net = (server as unknown as { _server?: Server })._server;
  const sockets = new Set<Socket>();
  net?.on('connection', (sock: Socket) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
  });
  server.on('socketError', (err: Error | null) => log.log('debug', 'device-agent: client socket error', { error: err?.message }));
  server.on('error', (err: Error | null) => log.log('warn', 'device-agent: server error', { error: err?.message }));

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('initialized', () => resolve());
      server.once('serverError', (err: Error | null) => reject(err ?? new Error('listen failed')));
    });
  } catch (err) {
    sim.stop();
    net?.close(() => undefined);
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConsoleError('UNAVAILABLE', `device-agent: cannot listen on ${host}:${opts.port} (${code})`, { cause: err });
  }
  server.on('serverError', (err: Error | null) => log.log('warn', 'device-agent: server error', { error: err?.message }));
  const address = net?.address();
  if (!address || typeof address === 'string') {
    sim.stop();
    server.close(() => undefined);
    throw new ConsoleError('INTERNAL', 'device-agent: cannot tell which port the Modbus server listens on');
  }
  const port = (address as AddressInfo).port;

  let stopping: Promise<void> | undefined;
  return {
    port,
    host,
    model: profile.model,
    unitId,
    seed,
    simulator,
    bank,
    clients: () => [...sockets].filter((s) => s.remoteAddress).map((s) => `${s.remoteAddress}:${s.remotePort}`),
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        sim.stop();
        // Closes the listener and destroys every client socket; the callback runs once all are gone.
        server.close(() => resolve());
      });
      return stopping;
    },
  };
}
