/**
 * Real processes for the end-to-end tests: simulated device agents and the console in web
 * mode, on free loopback ports, with a temporary config and data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '../..');

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Fails early with a clear message when the build the bin scripts run is missing. */
export function assertBuilt(): void {
  for (const f of ['out/main/cli.js', 'out/main/device-agent.js', 'out/renderer/index.html']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} missing: run "npx electron-vite build" before the e2e tests`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A child process with its output kept for failure messages. */
export class Proc {
  readonly child: ChildProcess;
  output = '';
  exited: Promise<number | null>;

  constructor(args: string[]) {
    // A configured plant's store needs its passphrase; tests give one through the environment.
    const env = { ...process.env, PLANT_CONSOLE_PASSPHRASE: process.env.PLANT_CONSOLE_PASSPHRASE ?? 'e2e only: not a secret' };
    this.child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
    const keep = (d: Buffer): void => {
      this.output = (this.output + d.toString()).slice(-20_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL by pid (the process we started, nothing else), then wait for its exit. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) await this.kill();
  }
}

export type Model = 'im250' | 'hp200' | 'pk60';

export interface AgentSpec {
  id: string;
  name: string;
  model: Model;
  seed: number;
}

/** One simulated machine on its Modbus port; restartable on the same port. */
export class Agent {
  proc: Proc;

  constructor(
    readonly spec: AgentSpec,
    readonly port: number,
  ) {
    this.proc = Agent.spawn(spec, port);
  }

  private static spawn(spec: AgentSpec, port: number): Proc {
    return new Proc(['bin/device-agent.js', '--modbus-port', String(port), '--model', spec.model, '--seed', String(spec.seed)]);
  }

  /** Waits until the agent accepts connections. */
  async ready(timeoutMs = 15_000): Promise<void> {
    const start = Date.now();
    const { connect } = await import('node:net');
    while (Date.now() - start < timeoutMs) {
      if (!this.proc.running) throw new Error(`device agent ${this.spec.id} exited:\n${this.proc.output}`);
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(this.port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      await sleep(100);
    }
    throw new Error(`device agent ${this.spec.id} not listening on ${this.port}:\n${this.proc.output}`);
  }

  async kill(): Promise<void> {
    await this.proc.kill();
  }

  async restart(): Promise<void> {
    await this.proc.stop();
    this.proc = Agent.spawn(this.spec, this.port);
    await this.ready();
  }
}

export interface HealthMachine {
  id: string;
  name: string;
  state: string;
  link: { state: string };
}

/** GET /healthz, or null while the server does not answer. */
export async function health(url: string): Promise<{ core: string; machines: HealthMachine[] } | null> {
  try {
    const res = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return null;
    return (await res.json()) as { core: string; machines: HealthMachine[] };
  } catch {
    return null;
  }
}

/** Polls /healthz (bounded) until `ok` holds: acceptable for waiting on process startup. */
export async function waitHealth(
  url: string,
  ok: (h: { core: string; machines: HealthMachine[] }) => boolean,
  what: string,
  timeoutMs = 30_000,
  proc?: Proc,
): Promise<void> {
  const start = Date.now();
  let last: unknown = null;
  while (Date.now() - start < timeoutMs) {
    if (proc && !proc.running) throw new Error(`console exited while waiting for ${what}:\n${proc.output}`);
    const h = await health(url);
    last = h;
    if (h && ok(h)) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}; last /healthz: ${JSON.stringify(last)}\n${proc?.output ?? ''}`);
}

export interface ConsoleServer {
  url: string;
  proc: Proc;
  dataDir: string;
  stop(): Promise<void>;
}

/** Starts `plant-console serve` (demo plant without a config file) and waits until it answers. */
export async function startConsole(opts: { configFile?: string }): Promise<ConsoleServer> {
  assertBuilt();
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'pc-e2e-data-'));
  const args = ['bin/plant-console.js', 'serve', '--port', String(port), '--data-dir', dataDir];
  if (opts.configFile) args.push('--config', opts.configFile);
  const proc = new Proc(args);
  const url = `http://127.0.0.1:${port}/`;
  await waitHealth(url, (h) => h.core === 'running', 'the console core', 30_000, proc);
  return {
    url,
    proc,
    dataDir,
    async stop() {
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const MACHINES: AgentSpec[] = [
  { id: 'im-1', name: 'Moulding 1', model: 'im250', seed: 11 },
  { id: 'press-2', name: 'Press 2', model: 'hp200', seed: 22 },
  { id: 'pack-3', name: 'Packing 3', model: 'pk60', seed: 33 },
];

export interface ConfigPlant {
  console: ConsoleServer;
  agents: Agent[];
  configDir: string;
  stop(): Promise<void>;
}

/** What a test may change in the config plant; the defaults are those of a configured plant (writes off, operator). */
export interface PlantOptions {
  writes?: boolean;
  localRole?: 'operator' | 'maintenance';
  /** Profile objects by machine id, written next to the config and used instead of `builtin:MODEL`. */
  profiles?: Partial<Record<string, unknown>>;
}

/** Three agents, a config pointing at them, and the console; resolves once all are online. */
export async function startConfigPlant(opts: PlantOptions = {}): Promise<ConfigPlant> {
  assertBuilt();
  const agents: Agent[] = [];
  for (const spec of MACHINES) agents.push(new Agent(spec, await freePort()));
  const configDir = mkdtempSync(join(tmpdir(), 'pc-e2e-config-'));
  let server: ConsoleServer | null = null;
  try {
    await Promise.all(agents.map((a) => a.ready()));
    for (const [id, profile] of Object.entries(opts.profiles ?? {}))
      writeFileSync(join(configDir, `${id}.profile.json`), JSON.stringify(profile, null, 2));
    const config = {
      plant: { name: 'E2E Plant', timezone: 'Europe/Berlin' },
      ...(opts.writes ? { writes: { enabled: true } } : {}),
      ...(opts.localRole ? { access: { localRole: opts.localRole } } : {}),
      devices: agents.map((a) => ({
        id: a.spec.id,
        name: a.spec.name,
        profile: opts.profiles?.[a.spec.id] ? `${a.spec.id}.profile.json` : `builtin:${a.spec.model}`,
        transport: { type: 'tcp', host: '127.0.0.1', port: a.port },
        pollIntervalMs: 250,
        timeoutMs: 500,
        retries: 0,
        backoff: { initialDelayMs: 200, maxDelayMs: 1000, randomisationFactor: 0.2 },
      })),
    };
    const configFile = join(configDir, 'plant.json');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    server = await startConsole({ configFile });
    const s = server;
    await waitHealth(
      s.url,
      (h) => h.machines.length === agents.length && h.machines.every((m) => m.link.state === 'online'),
      'all machines online',
      30_000,
      s.proc,
    );
  } catch (err) {
    await server?.stop();
    await Promise.all(agents.map((a) => a.proc.stop()));
    rmSync(configDir, { recursive: true, force: true });
    throw err;
  }
  const srv = server;
  return {
    console: srv,
    agents,
    configDir,
    async stop() {
      await srv.stop();
      await Promise.all(agents.map((a) => a.proc.stop()));
      rmSync(configDir, { recursive: true, force: true });
    },
  };
}
