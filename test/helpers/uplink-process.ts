/**
 * Runs test/helpers/uplink-runner.ts as a real child process: bundled once with rolldown (which
 * vite brings) into test-results/, next to node_modules so native packages resolve, then
 * started with `node`. The child can be killed with SIGKILL by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'rolldown';

const ROOT = join(import.meta.dirname, '../..');
const OUT = join(ROOT, 'test-results', 'uplink-runner');
let bundled: Promise<string> | null = null;

/** Bundles the runner (once per test process); resolves with the entry file. */
export function bundleRunner(): Promise<string> {
  bundled ??= build({
    input: join(ROOT, 'test/helpers/uplink-runner.ts'),
    platform: 'node',
    // Packages stay external: native modules (libsql, sodium-native) load from node_modules.
    external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
    logLevel: 'silent',
    output: { dir: OUT, format: 'esm', entryFileNames: 'runner.mjs' },
  }).then(() => join(OUT, 'runner.mjs'));
  return bundled;
}

export interface RunnerStatus {
  state: string;
  lastSeq: number;
  lastAckSeq: number | null;
  depth: number;
  /** The history store: samples written, held in memory, lost; where its writer runs. */
  history: { written: number; buffered: number; dropped: number; writer: 'worker' | 'in-process' };
}

/** A started runner: its last status line and its output, for failure messages. */
export interface Runner {
  child: ChildProcess;
  status(): RunnerStatus | null;
  output(): string;
  exited: Promise<number | null>;
  /** SIGKILL (this child only), then wait for its exit. */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts the console runner on `config` and `dataDir`; resolves once it printed `ready`. */
export async function startUplinkRunner(config: string, dataDir: string, env: Record<string, string>): Promise<Runner> {
  const entry = await bundleRunner();
  const child = spawn(process.execPath, [entry, config, dataDir], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let last: RunnerStatus | null = null;
  let buf = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runner not ready in 20 s:\n${out}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (line.startsWith('{')) last = JSON.parse(line) as RunnerStatus;
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`runner exited with ${code}:\n${out}`));
    });
  });
  await ready;
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    status: () => last,
    output: () => out,
    exited,
    async kill() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 5000) {
      if (!running()) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Runs `plant-console ARGS…` in a process of its own (as an operator beside a running console); resolves with its exit code and output. */
export async function runCliProcess(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  const entry = await bundleRunner();
  const child = spawn(process.execPath, [entry, '--cli', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { code, out, err };
}
