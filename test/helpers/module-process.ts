/**
 * Runs `device-agent` as a real child process for the module's power-loss and rollback tests:
 * device-agent/cli.ts bundled once with rolldown into test-results/ (next to node_modules, so
 * native packages resolve), started with `node`, killed with SIGKILL by its pid. Its stdout
 * lines are what the tests wait for; the firmware version it reports is read over Modbus
 * (FC43/14 Read Device Identification), as the console would read it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ModbusRTU from 'modbus-serial';
import { build } from 'rolldown';

const ROOT = join(import.meta.dirname, '../..');
const OUT = join(ROOT, 'test-results', 'module-agent');
let bundled: Promise<string> | null = null;

/** Bundles the CLI (once per test process); resolves with the entry file. */
export function bundleAgent(): Promise<string> {
  bundled ??= build({
    input: join(ROOT, 'device-agent/cli.ts'),
    platform: 'node',
    external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
    logLevel: 'silent',
    output: { dir: OUT, format: 'esm', entryFileNames: 'cli.mjs' },
  }).then(() => {
    const entry = join(OUT, 'entry.mjs');
    writeFileSync(
      entry,
      "import { runDeviceAgentCli } from './cli.mjs';\nprocess.exitCode = await runDeviceAgentCli(process.argv.slice(2));\n",
    );
    return entry;
  });
  return bundled;
}

/** A running device-agent. */
export interface AgentProcess {
  child: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  /** stdout and stderr, for failure messages. */
  output(): string;
  /** Resolves with the first stdout line (already seen or coming) matching `re`. */
  waitLine(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL (this child only), then wait for its exit: power loss. */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after 5 s. */
  stop(): Promise<void>;
}

const started: AgentProcess[] = [];

/** Starts `device-agent ARGS`. */
export async function spawnAgent(args: string[]): Promise<AgentProcess> {
  const entry = await bundleAgent();
  const child = spawn(process.execPath, [entry, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let out = '';
  let buf = '';
  const waiters = new Set<{ re: RegExp; resolve: (l: string) => void }>();
  child.stdout!.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-40_000);
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      for (const w of waiters) {
        if (w.re.test(line)) {
          waiters.delete(w);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-40_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  const proc: AgentProcess = {
    child,
    lines,
    output: () => out,
    waitLine(re, timeoutMs = 20_000) {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { re, resolve };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no line matching ${re} within ${timeoutMs} ms:\n${out}`));
        }, timeoutMs);
        w.resolve = (l) => {
          clearTimeout(timer);
          resolve(l);
        };
        waiters.add(w);
        void exited.then(({ code, signal }) => {
          if (!waiters.has(w)) return;
          waiters.delete(w);
          clearTimeout(timer);
          reject(new Error(`device-agent exited (${code ?? signal}) before a line matching ${re}:\n${out}`));
        });
      });
    },
    exited,
    async kill() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!running()) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
  started.push(proc);
  return proc;
}

/** Kills every agent still running (afterEach). */
export async function killAllAgents(): Promise<void> {
  await Promise.all(started.splice(0).map((p) => p.kill()));
}

/** Runs `device-agent ARGS` to its end; resolves with its exit code and output. */
export async function runAgent(args: string[]): Promise<{ code: number | null; lines: string[]; output: string }> {
  const p = await spawnAgent(args);
  const { code } = await p.exited;
  return { code, lines: p.lines, output: p.output() };
}

/** The firmware version a module reports over Modbus (FC43/14, MajorMinorRevision). */
export async function readRevision(port: number, unitId = 1): Promise<string> {
  const c = new ModbusRTU();
  await c.connectTCP('127.0.0.1', { port });
  try {
    c.setID(unitId);
    c.setTimeout(3000);
    const r = await c.readDeviceIdentification(1, 0);
    return r.data[2] ?? '';
  } finally {
    await new Promise<void>((res) => c.close(() => res()));
  }
}
