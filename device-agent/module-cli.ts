/**
 * The module side of the `device-agent` command: serving from a state directory (A/B slots,
 * identity, heartbeats, updates) and the `install`, `identity` and `status` subcommands.
 * cli.ts parses the options it shares with the plain simulator and hands the rest here.
 */
import { readFileSync, statSync } from 'node:fs';
import { defineCommand, type OptionSpec } from '../src-main/core/command-line';
import { ConsoleError } from '../src-main/core/errors';
import { consoleLogger } from '../src-main/core/log';
import { readBundle, type FirmwareRefusal } from '../src-main/firmware';
import { ensureIdentity } from './identity';
import { hasState, lockState, openState, pinnedRoot, readState } from './module-state';
import { startModule } from './module';
import { installRelease, rotateRoot, PAUSE_POINTS, SLOT_MAX_IMAGE_BYTES, type Pause, type PausePoint } from './slots';

/** A bundle holds the image and at most 1 MiB of manifest and signatures. */
const MAX_BUNDLE_BYTES = SLOT_MAX_IMAGE_BYTES + 1024 * 1024;

/** Options only module mode takes (a state directory: A/B firmware slots, identity, heartbeats). */
export const MODULE_OPTIONS = {
  'state-dir': { type: 'string', arg: 'DIR', help: "module mode: the module's state directory (A/B slots, state.json, identity)" },
  root: {
    type: 'string',
    arg: 'FILE',
    help: 'root of trust to pin at first start (manufacture); a different one is refused later: the root changes only by a signed rotation',
  },
  console: { type: 'string', arg: 'URL', help: 'the console (https://host:port): heartbeats and update downloads' },
  'console-ca': { type: 'string', arg: 'FILE', help: "the console's certificate (or its CA), PEM; required with --console" },
  'console-fingerprint': { type: 'string', arg: 'SHA256', help: "the SHA-256 fingerprint of the console's certificate, pinned as well" },
  'module-id': { type: 'string', arg: 'ID', help: "the id heartbeats carry (default: the identity's key id)" },
  'tamper-file': { type: 'string', arg: 'PATH', help: 'simulated enclosure switch: the file exists = the housing is open' },
  'heartbeat-s': { type: 'string', arg: 'N', help: 'seconds between heartbeats [default 10]' },
  'health-timeout-s': { type: 'string', arg: 'N', help: 'how long a new firmware waits to be read before it is given up [default 60]' },
  'max-trial-boots': { type: 'string', arg: 'N', help: 'restarts a new firmware may take before it is given up [default 3]' },
  'stall-timeout-s': { type: 'string', arg: 'N', help: 'abort a download after N seconds without a byte [default 30]' },
  'min-rate-bps': {
    type: 'string',
    arg: 'N',
    help: 'abort a download slower than N bytes/s over a minute; it is retried from where it stopped, 5 times at most [default 1024]',
  },
  'test-pause-at': { type: 'string', arg: 'POINT', help: `tests only: stop at ${PAUSE_POINTS.join(', ')} until killed` },
} as const satisfies Record<string, OptionSpec>;

/** Module options as given, keyed by their flag (`--state-dir`). */
export type ModuleArgs = Partial<Record<`--${keyof typeof MODULE_OPTIONS}`, string>>;

/** The module options among parsed values. */
export function moduleArgs(values: Partial<Record<string, unknown>>): ModuleArgs {
  const args: ModuleArgs = {};
  for (const k of Object.keys(MODULE_OPTIONS) as (keyof typeof MODULE_OPTIONS)[]) {
    const v = values[k];
    if (typeof v === 'string') args[`--${k}`] = v;
  }
  return args;
}

const STATE_DIR = { ...MODULE_OPTIONS['state-dir'], required: true, help: "the module's state directory" } as const;

/** `device-agent install|identity|status|rotate-root`. */
export const MODULE_COMMANDS = [
  defineCommand({
    name: 'device-agent install',
    summary: 'installs a release bundle from a file (USB) into the free slot; it is tried at the next start',
    details:
      'Verified against the pinned root (as the console does); exit code 1 names the refusal (a damaged file too: malformed). ' +
      'A release this module rolled back from is installed too: an operator asks for it, and it is forgotten as declined.',
    options: {
      'state-dir': STATE_DIR,
      root: MODULE_OPTIONS.root,
      model: { type: 'string', arg: 'NAME', default: 'im250', help: 'the machine model of a new state directory: im250, hp200 or pk60' },
      'test-pause-at': MODULE_OPTIONS['test-pause-at'],
    },
    args: [{ name: 'BUNDLE', help: 'the release bundle file (.pcfw)' }],
    examples: ['device-agent install --state-dir /var/lib/module --root root.json im250-1.1.0.pcfw'],
  }),
  defineCommand({
    name: 'device-agent identity',
    summary: "prints the module's key id, fingerprint and public key (makes the identity at first use)",
    options: { 'state-dir': STATE_DIR },
    examples: ['device-agent identity --state-dir /var/lib/module'],
  }),
  defineCommand({
    name: 'device-agent status',
    summary: 'prints the slots, the pinned root and the update history (JSON)',
    options: { 'state-dir': STATE_DIR },
    examples: ['device-agent status --state-dir /var/lib/module'],
  }),
  defineCommand({
    name: 'device-agent rotate-root',
    summary: 'pins a newer root of trust, signed by k keys of the old root and k of its own',
    options: { 'state-dir': STATE_DIR },
    args: [
      { name: 'ROOT', help: 'the new root document (root.json)' },
      { name: 'SIG', help: 'its minisign signature files', variadic: true },
    ],
    examples: ['device-agent rotate-root --state-dir /var/lib/module root-v2.json root-v2.json.a.minisig root-v2.json.b.minisig'],
  }),
] as const;

export type ModuleCommand = 'install' | 'identity' | 'status' | 'rotate-root';

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** A usage mistake: exit code 2. */
export class ModuleUsageError extends Error {}

function seconds(args: ModuleArgs, name: keyof ModuleArgs, min: number, max: number): number | undefined {
  const raw = args[name];
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ModuleUsageError(`${name} must be ${min}–${max}`);
  return n;
}

function pauseAt(args: ModuleArgs, io: Io): Pause | undefined {
  const point = args['--test-pause-at'];
  if (point === undefined) return undefined;
  if (!(PAUSE_POINTS as readonly string[]).includes(point))
    throw new ModuleUsageError(`--test-pause-at must be one of ${PAUSE_POINTS.join(', ')}`);
  return (p: PausePoint) => {
    if (p !== point) return Promise.resolve();
    io.out(`device-agent: test pause at ${p}`);
    // Held until the test kills the process; the interval keeps the event loop alive meanwhile.
    setInterval(() => undefined, 60_000);
    return new Promise<void>(() => undefined);
  };
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ModuleUsageError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Checks module options that need no I/O; throws ModuleUsageError. */
export function checkModuleArgs(args: ModuleArgs): void {
  seconds(args, '--heartbeat-s', 1, 3600);
  seconds(args, '--health-timeout-s', 1, 3600);
  seconds(args, '--max-trial-boots', 1, 20);
  seconds(args, '--stall-timeout-s', 1, 600);
  seconds(args, '--min-rate-bps', 1, 1_000_000_000);
  const given = Object.keys(args).filter((k) => k !== '--state-dir');
  if (!args['--state-dir'] && given.length) throw new ModuleUsageError(`${given[0]} needs --state-dir`);
  if (args['--console'] !== undefined && args['--console-ca'] === undefined) throw new ModuleUsageError('--console needs --console-ca');
  if (args['--console'] !== undefined && !/^https:\/\//.test(args['--console']))
    throw new ModuleUsageError('--console must be an https:// URL');
}

/** Serves the module from its state directory until `stop` resolves; resolves to the exit code. */
export async function runModuleAgent(
  args: ModuleArgs & { port: number; host: string; model: string; unitId: number; seed?: number },
  io: Io,
  stop: () => Promise<unknown>,
): Promise<number> {
  const dir = args['--state-dir']!;
  const root = args['--root'] ? readFile(args['--root'], 'the root') : null;
  const consoleUrl = args['--console'];
  const tls = consoleUrl
    ? {
        ca: readFile(args['--console-ca']!, 'the console certificate'),
        ...(args['--console-fingerprint'] ? { fingerprint256: args['--console-fingerprint'] } : {}),
      }
    : null;
  const pause = pauseAt(args, io);
  let crashed!: (message: string) => void;
  const crash = new Promise<string>((r) => (crashed = r));
  const heartbeatS = seconds(args, '--heartbeat-s', 1, 3600) ?? 10;
  const stallS = seconds(args, '--stall-timeout-s', 1, 600) ?? 30;
  const minRate = seconds(args, '--min-rate-bps', 1, 1_000_000_000);
  const limits = { stallMs: stallS * 1000, ...(minRate !== undefined ? { minBytesPerSecond: minRate } : {}) };
  const mod = await startModule({
    stateDir: dir,
    model: args.model,
    root,
    host: args.host,
    port: args.port,
    unitId: args.unitId,
    ...(args.seed !== undefined ? { seed: args.seed } : {}),
    healthTimeoutMs: (seconds(args, '--health-timeout-s', 1, 3600) ?? 60) * 1000,
    maxTrialBoots: seconds(args, '--max-trial-boots', 1, 20) ?? 3,
    ...(consoleUrl && tls ? { console: { url: consoleUrl, tls, heartbeatMs: heartbeatS * 1000, limits } } : {}),
    ...(args['--module-id'] ? { moduleId: args['--module-id'] } : {}),
    ...(args['--tamper-file'] ? { tamperFile: args['--tamper-file'] } : {}),
    ...(pause ? { pause } : {}),
    logger: consoleLogger('info', io.err),
    say: io.out,
    onCrash: crashed,
  });
  io.out(`device-agent: module ${mod.identity.kid}, fingerprint ${mod.identity.fingerprint}`);
  const ended = await Promise.race([stop().then(() => null), crash]);
  await mod.stop();
  if (ended !== null) return 70;
  io.out('device-agent: stopped');
  return 0;
}

function installCommand(args: ModuleArgs & { model: string }, bundlePath: string, io: Io): Promise<number> {
  const dir = args['--state-dir']!;
  const root = args['--root'] ? readFile(args['--root'], 'the root') : null;
  if (!hasState(dir) || root) openState(dir, hasState(dir) ? readState(dir).model : args.model, root);
  const refused = (code: FirmwareRefusal, message: string): Promise<number> => {
    io.err(`device-agent: refused: ${code} — ${message}`);
    return Promise.resolve(1);
  };
  const size = statSync(bundlePath, { throwIfNoEntry: false })?.size ?? 0;
  if (size > MAX_BUNDLE_BYTES)
    return refused('image_too_large', `${bundlePath} has ${size} bytes; a release for this module has at most ${SLOT_MAX_IMAGE_BYTES}`);
  let bundle;
  try {
    bundle = readBundle(readFile(bundlePath, 'the bundle'), { maxBytes: MAX_BUNDLE_BYTES });
  } catch (err) {
    // A damaged or foreign file is refused like every other bad release: with its code.
    if (err instanceof ConsoleError && err.code === 'FIRMWARE_INVALID') return refused('malformed', err.message);
    throw err;
  }
  const unlock = lockState(dir);
  const pause = pauseAt(args, io);
  return installRelease(dir, bundle, { now: Date.now, ...(pause ? { pause } : {}) })
    .then((r) => {
      if (!r.ok) {
        io.err(`device-agent: refused: ${r.code} — ${r.message}`);
        return 1;
      }
      io.out(`device-agent: installed firmware ${r.manifest.version} in slot ${r.slot}; it is tried at the next start`);
      return 0;
    })
    .finally(unlock);
}

function statusCommand(dir: string, io: Io): number {
  const s = readState(dir);
  const root = pinnedRoot(s);
  const summary = {
    model: s.model,
    active: s.active,
    pending: s.pending,
    trialBoots: s.trialBoots,
    boots: s.boots,
    committed: s.committed,
    slots: s.slots,
    root: { version: root.version, threshold: root.threshold, keys: root.keys.map((k) => k.name) },
    history: s.history,
    rollbacks: s.rollbacks,
    declined: s.declined,
  };
  io.out(JSON.stringify(summary, null, 2));
  return 0;
}

/** Runs `device-agent install|identity|status …`; resolves to the exit code. */
export async function runModuleCommand(
  command: ModuleCommand,
  args: ModuleArgs & { model: string },
  rest: string[],
  io: Io,
): Promise<number> {
  const dir = args['--state-dir'];
  if (!dir) throw new ModuleUsageError(`${command} needs --state-dir`);
  if (command === 'install') {
    if (rest.length !== 1) throw new ModuleUsageError('install takes one bundle file');
    return installCommand(args, rest[0]!, io);
  }
  if (command === 'rotate-root') {
    if (rest.length < 2) throw new ModuleUsageError('rotate-root takes the new root file and its signature files');
    const [rootFile, ...sigFiles] = rest as [string, ...string[]];
    const next = { root: readFile(rootFile, 'the root'), signatures: sigFiles.map((f) => readFile(f, 'the signature').toString('utf8')) };
    const unlock = lockState(dir);
    try {
      const r = rotateRoot(dir, next);
      if (!r.ok) {
        io.err(`device-agent: refused: ${r.code} — ${r.message}`);
        return 1;
      }
      io.out(`device-agent: pinned root v${r.version}`);
      return 0;
    } finally {
      unlock();
    }
  }
  if (rest.length) throw new ModuleUsageError(`${command} takes no arguments`);
  if (command === 'status') {
    if (!hasState(dir)) throw new ConsoleError('NOT_FOUND', `${dir} holds no module state`);
    return statusCommand(dir, io);
  }
  const { identity, created } = ensureIdentity(dir, Date.now());
  io.out(`module key id   ${identity.kid}`);
  io.out(`fingerprint     ${identity.fingerprint}`);
  io.out(`public key      ${identity.keys.publicKey.toString('base64')}`);
  if (created) io.out('(a new identity was made)');
  return 0;
}
