/**
 * `device-agent`: serves one simulated machine over Modbus TCP, RTU on a serial port and/or RTU
 * over TCP until SIGINT or SIGTERM; every transport serves the same simulated machine. With
 * --state-dir it runs as a module (firmware slots, identity, heartbeats: module-cli.ts).
 * bin/device-agent.js sets the exit code from `runDeviceAgentCli`; nothing here exits the process.
 */
import { ConsoleError } from '../src-main/core/errors';
import { consoleLogger } from '../src-main/core/log';
import { randomInt } from 'node:crypto';
import { loadProfile, packageRoot } from '../src-main/config/load';
import { startAgent, startSimulation, type Agent, type Simulation } from './agent';
import { startRtuLine, type LineServer } from './rtu-server';
import {
  checkModuleArgs,
  MODULE_OPTIONS,
  MODULE_USAGE,
  ModuleUsageError,
  runModuleAgent,
  runModuleCommand,
  SUBCOMMANDS,
  type ModuleArgs,
} from './module-cli';

const USAGE = `Usage: device-agent --modbus-port PORT [options]
       device-agent --rtu-path DEVICE [--baud N] [--rtu-tcp-port N] [options]

Simulates one machine of the supplier's range and serves it over Modbus TCP, Modbus RTU on a
serial port and/or RTU framed over TCP (SIMULATED data). At least one of --modbus-port,
--rtu-path and --rtu-tcp-port is required.

Options:
  --modbus-port N   TCP port to serve Modbus TCP on (1–65535)
  --rtu-path DEV    serial device to serve Modbus RTU on (e.g. /dev/ttyUSB0, a pty)
  --baud N          baud rate of --rtu-path (1200–115200, default 19200)
  --rtu-tcp-port N  TCP port to serve RTU frames over TCP on (0: a free one, printed)
  --host ADDR       interface to listen on (default 127.0.0.1)
  --model NAME      built-in machine profile: im250, hp200 or pk60 (default im250)
  --unit-id N       Modbus unit id answered (1–247, default 1); other ids get exception 11
  --seed N          simulation seed (0–4294967295), for a repeatable run
  -h, --help        show this help

${MODULE_USAGE}`;

interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Resolves when the agent should stop; SIGINT or SIGTERM unless given (tests). */
  stopSignal?: Promise<unknown>;
}

const defaultIo: CliIo = {
  out: (l) => process.stdout.write(l + '\n'),
  err: (l) => process.stderr.write(l + '\n'),
};

class UsageError extends Error {}

function intOption(name: string, raw: string, min: number, max: number): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${name} must be ${min}–${max}`);
  return n;
}

interface CliArgs {
  help: boolean;
  port?: number;
  host: string;
  model: string;
  unitId: number;
  seed?: number;
  rtuPath?: string;
  baud: number;
  rtuTcpPort?: number;
  module: ModuleArgs;
  /** Subcommand arguments (install's bundle). */
  rest: string[];
}

function parseArgs(argv: readonly string[], allowRest = false): CliArgs {
  const args: CliArgs = { help: false, host: '127.0.0.1', model: 'im250', unitId: 1, baud: 19200, module: {}, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (allowRest && !arg.startsWith('-')) {
      args.rest.push(arg);
      continue;
    }
    if (arg === '-h' || arg === '--help') {
      args.help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 && arg.startsWith('--') ? arg.slice(0, eq) : arg;
    const known = [
      '--modbus-port',
      '--host',
      '--model',
      '--unit-id',
      '--seed',
      '--rtu-path',
      '--baud',
      '--rtu-tcp-port',
      ...MODULE_OPTIONS,
    ];
    if (!known.includes(name)) throw new UsageError(`unknown ${arg.startsWith('-') ? 'option' : 'argument'} "${arg}" (see --help)`);
    const value = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new UsageError(`${name} needs a value`);
    if ((MODULE_OPTIONS as readonly string[]).includes(name)) args.module[name as keyof ModuleArgs] = value;
    else if (name === '--modbus-port') args.port = intOption(name, value, 1, 65535);
    else if (name === '--unit-id') args.unitId = intOption(name, value, 1, 247);
    else if (name === '--seed') args.seed = intOption(name, value, 0, 0xffffffff);
    else if (name === '--host') args.host = value;
    else if (name === '--rtu-path') args.rtuPath = value;
    else if (name === '--rtu-tcp-port') args.rtuTcpPort = intOption(name, value, 0, 65535);
    else if (name === '--baud') {
      if (![1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200].includes(Number(value)))
        throw new UsageError('--baud must be a standard rate, 1200–115200');
      args.baud = Number(value);
    } else if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(value)) throw new UsageError('--model must be a profile name such as im250');
    else args.model = value;
  }
  return args;
}

/** "IM-250" from "Injection moulding machine IM-250": the type designation, else the whole title. */
function shortName(title: string): string {
  return /\b[A-Z]{1,5}-?\d[\w-]*$/.exec(title)?.[0] ?? title;
}

function signalled(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** Module mode and its subcommands; usage mistakes exit 2, refusals and failures 1. */
async function runModule(command: (typeof SUBCOMMANDS)[number] | undefined, args: CliArgs, io: CliIo): Promise<number> {
  try {
    if (command) return await runModuleCommand(command, { ...args.module, model: args.model }, args.rest, io);
    if (args.port === undefined) throw new ModuleUsageError('--state-dir needs --modbus-port (a module serves Modbus TCP)');
    if (args.rtuPath !== undefined || args.rtuTcpPort !== undefined) throw new ModuleUsageError('--state-dir serves Modbus TCP only');
    const base = { ...args.module, port: args.port, host: args.host, model: args.model, unitId: args.unitId };
    return await runModuleAgent(args.seed !== undefined ? { ...base, seed: args.seed } : base, io, () => io.stopSignal ?? signalled());
  } catch (err) {
    const msg = (err as Error).message.replace(/^device-agent: /, '').split('\n')[0];
    io.err(`device-agent: ${msg}`);
    const usage =
      err instanceof ModuleUsageError || (err instanceof ConsoleError && (err.code === 'CONFIG_INVALID' || err.code === 'BAD_REQUEST'));
    return usage ? 2 : 1;
  }
}

/** Runs `device-agent` with `argv` (without node and script); resolves to the exit code. */
export async function runDeviceAgentCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let args: CliArgs;
  const command = SUBCOMMANDS.find((c) => c === argv[0]);
  try {
    args = parseArgs(command ? argv.slice(1) : argv, command !== undefined);
    checkModuleArgs(args.module);
  } catch (err) {
    io.err(`device-agent: ${(err as Error).message}`);
    return 2;
  }
  if (args.help) {
    io.out(USAGE);
    return 0;
  }
  if (command || args.module['--state-dir'] !== undefined) return runModule(command, args, io);
  if (args.port === undefined && args.rtuPath === undefined && args.rtuTcpPort === undefined) {
    io.err('device-agent: --modbus-port is required (see --help), or --rtu-path or --rtu-tcp-port');
    return 2;
  }
  const logger = consoleLogger('info', io.err);
  let agent: Agent | null = null;
  let own: Simulation | null = null;
  const lines: LineServer[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled([...lines.map((l) => l.stop()), agent?.stop()]);
    own?.stop();
  };
  const served: string[] = [];
  try {
    if (args.port !== undefined) {
      agent = await startAgent({
        host: args.host,
        port: args.port,
        model: args.model,
        unitId: args.unitId,
        ...(args.seed !== undefined ? { seed: args.seed } : {}),
        logger,
      });
      served.push(`Modbus TCP on ${agent.host}:${agent.port}`);
    }
    // Every transport serves the same machine, so a value written over one reads back over another.
    const sim: Pick<Simulation, 'simulator' | 'bank'> =
      agent ??
      (own = startSimulation({
        profile: loadProfile(`builtin:${args.model}`, packageRoot()),
        seed: args.seed ?? randomInt(0x7fffffff),
        tickMs: 100,
        clock: Date.now,
        logger,
      }));
    const units = [{ unitId: args.unitId, simulation: sim }];
    if (args.rtuPath !== undefined) {
      lines.push(await startRtuLine({ path: args.rtuPath, baudRate: args.baud, units, logger }));
      served.push(`Modbus RTU on ${args.rtuPath} @ ${args.baud}`);
    }
    if (args.rtuTcpPort !== undefined) {
      const line = await startRtuLine({ port: args.rtuTcpPort, host: args.host, units, logger });
      lines.push(line);
      served.push(`Modbus RTU over TCP on ${args.host}:${line.port}`);
    }
  } catch (err) {
    await stopAll();
    const msg = (err as Error).message.replace(/^device-agent: /, '').split('\n')[0];
    io.err(`device-agent: ${msg}`);
    return err instanceof ConsoleError && (err.code === 'CONFIG_INVALID' || err.code === 'BAD_REQUEST') ? 2 : 1;
  }
  const profile = (agent ?? own)!.simulator.profile;
  const title = shortName(profile.title);
  for (const what of served) io.out(`device-agent: ${title} (${profile.model}) unit ${args.unitId} serving ${what} — SIMULATED`);
  await (io.stopSignal ?? signalled());
  await stopAll();
  io.out('device-agent: stopped');
  return 0;
}
