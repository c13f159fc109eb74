/**
 * `device-agent`: serves one simulated machine over Modbus TCP, RTU on a serial port and/or RTU
 * over TCP until SIGINT or SIGTERM; every transport serves the same simulated machine. With
 * --state-dir it runs as a module (firmware slots, identity, heartbeats: module-cli.ts).
 * bin/device-agent.js sets the exit code from `runDeviceAgentCli`; nothing here exits the process.
 */
import {
  cliErrorExit,
  defineCommand,
  defineGroup,
  parseCommand,
  selectCommand,
  type CommandSpec,
  type OptionValues,
} from '../src-main/core/command-line';
import { ConsoleError } from '../src-main/core/errors';
import { consoleLogger } from '../src-main/core/log';
import { randomInt } from 'node:crypto';
import { loadProfile, packageRoot } from '../src-main/config/load';
import { startAgent, startSimulation, type Agent, type Simulation } from './agent';
import { startRtuLine, type LineServer } from './rtu-server';
import {
  checkModuleArgs,
  MODULE_COMMANDS,
  MODULE_OPTIONS,
  moduleArgs,
  ModuleUsageError,
  runModuleAgent,
  runModuleCommand,
  type ModuleArgs,
  type ModuleCommand,
} from './module-cli';

/** `device-agent` without a command: serve one simulated machine (or a module, with --state-dir). */
export const SERVE_MACHINE_COMMAND = defineCommand({
  name: 'device-agent',
  summary: "one simulated machine of the supplier's range, over Modbus TCP, RTU and/or RTU over TCP",
  usage: '(--modbus-port N | --rtu-path DEV | --rtu-tcp-port N) [options]',
  details: `Serves SIMULATED data until SIGINT or SIGTERM; every transport serves the same machine, so a value
written over one reads back over another. With --state-dir it runs as the machine's IoT module
(A/B firmware slots, verified updates, health and tamper reports, heartbeats to the console) and
serves Modbus TCP only.`,
  options: {
    'modbus-port': { type: 'string', arg: 'N', help: 'the TCP port to serve Modbus TCP on (1–65535)' },
    'rtu-path': { type: 'string', arg: 'DEV', help: 'the serial device to serve Modbus RTU on (e.g. /dev/ttyUSB0, a pty)' },
    baud: { type: 'string', arg: 'N', default: '19200', help: 'the baud rate of --rtu-path (1200–115200)' },
    'rtu-tcp-port': { type: 'string', arg: 'N', help: 'the TCP port to serve RTU frames over TCP on (0: a free one, printed)' },
    host: { type: 'string', arg: 'ADDR', default: '127.0.0.1', help: 'the interface to listen on' },
    model: { type: 'string', arg: 'NAME', default: 'im250', help: 'the built-in machine profile: im250, hp200 or pk60' },
    'unit-id': { type: 'string', arg: 'N', default: '1', help: 'the Modbus unit id answered (1–247); other ids get exception 11' },
    seed: { type: 'string', arg: 'N', help: 'the simulation seed (0–4294967295), for a repeatable run' },
    ...MODULE_OPTIONS,
  },
  examples: [
    'device-agent --modbus-port 5020 --model hp200',
    'device-agent --rtu-path /dev/ttyUSB0 --baud 19200 --unit-id 3',
    'device-agent --modbus-port 5020 --state-dir /var/lib/module --root root.json --console https://127.0.0.1:8443 --console-ca console.pem',
  ],
});

/** Every command of `device-agent`, for parsing and help. */
export const DEVICE_AGENT = defineGroup({
  name: 'device-agent',
  summary: "the program of the machines' IoT modules; today it simulates a machine",
  default: SERVE_MACHINE_COMMAND,
  commands: MODULE_COMMANDS,
});

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
  port?: number;
  host: string;
  model: string;
  unitId: number;
  seed?: number;
  rtuPath?: string;
  baud: number;
  rtuTcpPort?: number;
  module: ModuleArgs;
}

/** Checks the machine's options beyond their presence. */
function machineArgs(values: OptionValues<typeof SERVE_MACHINE_COMMAND.options>): CliArgs {
  if (![1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200].includes(Number(values.baud)))
    throw new UsageError('--baud must be a standard rate, 1200–115200');
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(values.model)) throw new UsageError('--model must be a profile name such as im250');
  const args: CliArgs = {
    host: values.host,
    model: values.model,
    unitId: intOption('--unit-id', values['unit-id'], 1, 247),
    baud: Number(values.baud),
    module: moduleArgs(values),
  };
  if (values['modbus-port'] !== undefined) args.port = intOption('--modbus-port', values['modbus-port'], 1, 65535);
  if (values.seed !== undefined) args.seed = intOption('--seed', values.seed, 0, 0xffffffff);
  if (values['rtu-path'] !== undefined) args.rtuPath = values['rtu-path'];
  if (values['rtu-tcp-port'] !== undefined) args.rtuTcpPort = intOption('--rtu-tcp-port', values['rtu-tcp-port'], 0, 65535);
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
async function runModule(run: () => Promise<number>, io: CliIo): Promise<number> {
  try {
    return await run();
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
  let parsed: { command: CommandSpec; values: Record<string, unknown>; positionals: string[] };
  try {
    const { command, rest } = selectCommand(DEVICE_AGENT, argv);
    parsed = { command, ...parseCommand(command, rest) };
  } catch (err) {
    // io writes lines: help and messages go without their final newline.
    return cliErrorExit(err, 'device-agent', { out: (s) => io.out(s.replace(/\n$/, '')), err: (s) => io.err(s.replace(/\n$/, '')) });
  }
  const { command, values, positionals } = parsed;
  if (command !== SERVE_MACHINE_COMMAND) {
    const sub = command.name.slice(DEVICE_AGENT.name.length + 1) as ModuleCommand;
    const model = typeof values['model'] === 'string' ? values['model'] : 'im250';
    return runModule(() => runModuleCommand(sub, { ...moduleArgs(values), model }, positionals, io), io);
  }
  let args: CliArgs;
  try {
    args = machineArgs(values as OptionValues<typeof SERVE_MACHINE_COMMAND.options>);
    checkModuleArgs(args.module);
  } catch (err) {
    io.err(`device-agent: ${(err as Error).message}`);
    return 2;
  }
  if (args.module['--state-dir'] !== undefined) {
    const a = args;
    return runModule(() => {
      if (a.port === undefined) throw new ModuleUsageError('--state-dir needs --modbus-port (a module serves Modbus TCP)');
      if (a.rtuPath !== undefined || a.rtuTcpPort !== undefined) throw new ModuleUsageError('--state-dir serves Modbus TCP only');
      const base = { ...a.module, port: a.port, host: a.host, model: a.model, unitId: a.unitId };
      return runModuleAgent(a.seed !== undefined ? { ...base, seed: a.seed } : base, io, () => io.stopSignal ?? signalled());
    }, io);
  }
  if (args.port === undefined && args.rtuPath === undefined && args.rtuTcpPort === undefined) {
    io.err('device-agent: --modbus-port is required, or --rtu-path or --rtu-tcp-port (see "device-agent --help")');
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
