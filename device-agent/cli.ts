/**
 * `device-agent`: serves one simulated machine over Modbus TCP until SIGINT or SIGTERM.
 * bin/device-agent.js sets the exit code from `runDeviceAgentCli`; nothing here exits the process.
 */
import { ConsoleError } from '../src-main/core/errors';
import { consoleLogger } from '../src-main/core/log';
import { startAgent, type Agent } from './agent';

const USAGE = `Usage: device-agent --modbus-port PORT [options]

Simulates one machine of the supplier's range and serves it over Modbus TCP (SIMULATED data).

Options:
  --modbus-port N   TCP port to serve Modbus on (1–65535), required
  --host ADDR       interface to listen on (default 127.0.0.1)
  --model NAME      built-in machine profile: im250, hp200 or pk60 (default im250)
  --unit-id N       Modbus unit id answered (1–247, default 1); other ids get exception 11
  --seed N          simulation seed (0–4294967295), for a repeatable run
  -h, --help        show this help`;

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
}

function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { help: false, host: '127.0.0.1', model: 'im250', unitId: 1 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') {
      args.help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 && arg.startsWith('--') ? arg.slice(0, eq) : arg;
    const known = ['--modbus-port', '--host', '--model', '--unit-id', '--seed'];
    if (!known.includes(name)) throw new UsageError(`unknown ${arg.startsWith('-') ? 'option' : 'argument'} "${arg}" (see --help)`);
    const value = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new UsageError(`${name} needs a value`);
    if (name === '--modbus-port') args.port = intOption(name, value, 1, 65535);
    else if (name === '--unit-id') args.unitId = intOption(name, value, 1, 247);
    else if (name === '--seed') args.seed = intOption(name, value, 0, 0xffffffff);
    else if (name === '--host') args.host = value;
    else if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(value)) throw new UsageError('--model must be a profile name such as im250');
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

/** Runs `device-agent` with `argv` (without node and script); resolves to the exit code. */
export async function runDeviceAgentCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    io.err(`device-agent: ${(err as Error).message}`);
    return 2;
  }
  if (args.help) {
    io.out(USAGE);
    return 0;
  }
  if (args.port === undefined) {
    io.err('device-agent: --modbus-port is required (see --help)');
    return 2;
  }
  let agent: Agent;
  try {
    agent = await startAgent({
      host: args.host,
      port: args.port,
      model: args.model,
      unitId: args.unitId,
      ...(args.seed !== undefined ? { seed: args.seed } : {}),
      logger: consoleLogger('info', io.err),
    });
  } catch (err) {
    const msg = (err as Error).message.replace(/^device-agent: /, '').split('\n')[0];
    io.err(`device-agent: ${msg}`);
    return err instanceof ConsoleError && (err.code === 'CONFIG_INVALID' || err.code === 'BAD_REQUEST') ? 2 : 1;
  }
  const title = shortName(agent.simulator.profile.title);
  io.out(`device-agent: ${title} (${agent.model}) unit ${agent.unitId} serving Modbus TCP on ${agent.host}:${agent.port} — SIMULATED`);
  await (io.stopSignal ?? signalled());
  await agent.stop();
  io.out('device-agent: stopped');
  return 0;
}
