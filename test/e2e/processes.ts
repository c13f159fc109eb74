/**
 * Real processes for the end-to-end tests: simulated device agents and the console in web
 * mode, on free loopback ports, with a temporary config and data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * GET /healthz, or null while the server does not answer. Where sign-in is required it tells
 * only whether the console runs, unless `cookie` carries a session (signInCookie).
 */
export async function health(url: string, cookie?: string): Promise<{ core: string; machines: HealthMachine[] } | null> {
  try {
    const res = await fetch(new URL('/healthz', url), {
      signal: AbortSignal.timeout(2000),
      ...(cookie ? { headers: { Cookie: cookie } } : {}),
    });
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
  cookie?: string,
): Promise<void> {
  const start = Date.now();
  let last: unknown = null;
  while (Date.now() - start < timeoutMs) {
    if (proc && !proc.running) throw new Error(`console exited while waiting for ${what}:\n${proc.output}`);
    const h = await health(url, cookie);
    last = h;
    if (h && ok(h)) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}; last /healthz: ${JSON.stringify(last)}\n${proc?.output ?? ''}`);
}

/** Signs in over HTTP (POST /api/login); returns the session cookie "pc_session=…". */
export async function signInCookie(url: string, name: string, password: string): Promise<string> {
  const res = await fetch(new URL('/api/login', url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, password }),
    signal: AbortSignal.timeout(10_000),
  });
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (!res.ok || !cookie) throw new Error(`sign-in as ${name} failed: ${res.status} ${await res.text()}`);
  return cookie;
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
  // A demo start creates its accounts (Argon2id) first: generous on a loaded machine.
  await waitHealth(url, (h) => h.core === 'running', 'the console core', 60_000, proc);
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

/** An account a test signs in with; `pin` is set with `plant-console user pin` when given. */
export interface E2eUser {
  name: string;
  password: string;
  role: 'operator' | 'maintenance' | 'admin' | 'supplier-support';
  pin?: string;
}

/** A maintenance technician without a PIN (a signed-in account without one confirms with its sign-in). */
export const E2E_MAINT: E2eUser = { name: 'anna', password: 'anna e2e password', role: 'maintenance' };

/**
 * What a test may change in the config plant; the defaults are those of a configured plant (writes
 * off; the window viewed without sign-in, every change by a signed-in account).
 */
export interface PlantOptions {
  writes?: boolean;
  /** Accounts added with the CLI once the console runs (test/e2e/fixtures.ts signIn signs them in). */
  users?: E2eUser[];
  /** Profile objects by machine id, written next to the config and used instead of `builtin:MODEL`. */
  profiles?: Partial<Record<string, unknown>>;
  /**
   * The plant gets its administrator (E2E_ADMIN, with `plant-console user add`) as soon as it
   * runs, so no first-start setup covers the screen. false: no account at all (setup.spec.ts).
   */
  accounts?: boolean;
  /** The config's `access` section (e.g. a lockout after fewer failures). */
  access?: Record<string, unknown>;
}

/** The administrator every config plant gets unless `accounts: false`. */
export const E2E_ADMIN = { name: 'e2e-admin', password: 'e2e admin password', role: 'admin' } as const;

/** Adds an account to a running console's store with the CLI (password on standard input). */
export async function addAccount(server: ConsoleServer, account: { name: string; password: string; role: string }): Promise<void> {
  const env = { ...process.env, PLANT_CONSOLE_PASSPHRASE: process.env.PLANT_CONSOLE_PASSPHRASE ?? 'e2e only: not a secret' };
  const args = ['bin/plant-console.js', 'user', 'add', '--data-dir', server.dataDir, '--name', account.name, '--role', account.role];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  child.stdin.end(`${account.password}\n`);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`plant-console user add ${account.name} failed (${code}):\n${output}`);
}

/** Runs `plant-console user …` on a running console's store; `stdin` is the one line it reads (a PIN). */
export async function userCommand(server: ConsoleServer, args: string[], stdin = ''): Promise<void> {
  const env = { ...process.env, PLANT_CONSOLE_PASSPHRASE: process.env.PLANT_CONSOLE_PASSPHRASE ?? 'e2e only: not a secret' };
  const argv = ['bin/plant-console.js', 'user', ...args, '--data-dir', server.dataDir];
  const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  child.stdin.end(stdin === '' ? '' : `${stdin}\n`);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`plant-console user ${args.join(' ')} failed (${code}):\n${output}`);
}

/** Sets an account's PIN in a running console's store (`user pin`, the PIN on standard input). */
export function setPin(server: ConsoleServer, name: string, pin: string): Promise<void> {
  return userCommand(server, ['pin', '--name', name], pin);
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
      ...(opts.access ? { access: opts.access } : {}),
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
    if (opts.accounts !== false) await addAccount(s, E2E_ADMIN);
    for (const u of opts.users ?? []) {
      await addAccount(s, u);
      if (u.pin) await setPin(s, u.name, u.pin);
    }
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

// ---------------------------------------------------------------------------------------------
// IoT modules (issue #8): device agents run as modules of a configured plant.

/** A machine whose device agent runs as a module, with the id its heartbeats carry. */
export interface ModuleSpec extends AgentSpec {
  moduleId: string;
}

/** A device agent in module mode: state directory, pinned root, the console's module channel, a tamper switch (a file). */
export class ModuleAgent {
  readonly proc: Proc;
  readonly stateDir: string;
  readonly tamperFile: string;

  constructor(
    readonly spec: ModuleSpec,
    readonly port: number,
    dir: string,
    channel: { url: string; ca: string },
    rootFile: string,
  ) {
    this.stateDir = join(dir, `${spec.moduleId}-state`);
    this.tamperFile = join(dir, `${spec.moduleId}-enclosure-open`);
    mkdirSync(this.stateDir, { recursive: true });
    this.proc = new Proc([
      'bin/device-agent.js',
      ...['--modbus-port', String(port), '--model', spec.model, '--seed', String(spec.seed)],
      ...['--state-dir', this.stateDir, '--root', rootFile, '--module-id', spec.moduleId],
      ...['--console', channel.url, '--console-ca', channel.ca, '--tamper-file', this.tamperFile, '--heartbeat-s', '1'],
    ]);
  }

  /** The fingerprint the module prints at start ("device-agent: module …, fingerprint …"), to compare with the console's. */
  async fingerprint(timeoutMs = 15_000): Promise<string> {
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      const m = /fingerprint ([0-9a-f ]{39})/.exec(this.proc.output);
      if (m?.[1]) return m[1];
      if (!this.proc.running) break;
      await sleep(100);
    }
    throw new Error(`module ${this.spec.moduleId} printed no fingerprint:\n${this.proc.output}`);
  }

  /** The enclosure's switch: the file exists while the housing is open. */
  openEnclosure(): void {
    writeFileSync(this.tamperFile, 'open\n');
  }
}

/** The PEM the console made for its module channel at first start (src-main/modules/index.ts). */
function findModuleCert(dataDir: string): string | null {
  const cert = join(dataDir, 'modules', 'web-tls', 'cert.pem');
  return existsSync(cert) ? cert : null;
}

export interface ModulePlant {
  console: ConsoleServer;
  modules: ModuleAgent[];
  configDir: string;
  stop(): Promise<void>;
}

/**
 * A configured plant whose machines' agents run as modules: the config's `modules` section pins
 * `rootFile` (copied next to it), the window is always open, the soak short; the console starts
 * first (its module channel makes its certificate), then the modules, which ask to be paired.
 */
export async function startModulePlant(opts: {
  specs: ModuleSpec[];
  root: Buffer;
  soakS?: number;
  users?: E2eUser[];
  writes?: boolean;
  /** Profile objects by machine id, used instead of `builtin:MODEL`. */
  profiles?: Partial<Record<string, unknown>>;
}): Promise<ModulePlant> {
  assertBuilt();
  const configDir = mkdtempSync(join(tmpdir(), 'pc-e2e-modules-'));
  const ports = await Promise.all(opts.specs.map(() => freePort()));
  const channelPort = await freePort();
  const modules: ModuleAgent[] = [];
  let server: ConsoleServer | null = null;
  try {
    writeFileSync(join(configDir, 'root.json'), opts.root);
    for (const [id, profile] of Object.entries(opts.profiles ?? {}))
      writeFileSync(join(configDir, `${id}.profile.json`), JSON.stringify(profile, null, 2));
    const config = {
      plant: { name: 'E2E Module Plant', timezone: 'Europe/Berlin' },
      ...(opts.writes ? { writes: { enabled: true } } : {}),
      devices: opts.specs.map((s, i) => ({
        id: s.id,
        name: s.name,
        profile: opts.profiles?.[s.id] ? `${s.id}.profile.json` : `builtin:${s.model}`,
        transport: { type: 'tcp', host: '127.0.0.1', port: ports[i] },
        pollIntervalMs: 250,
        timeoutMs: 500,
        retries: 0,
        backoff: { initialDelayMs: 200, maxDelayMs: 1000, randomisationFactor: 0.2 },
      })),
      modules: {
        root: 'root.json',
        host: '127.0.0.1',
        port: channelPort,
        heartbeatS: 1,
        maintenanceWindow: 'always',
        soakS: opts.soakS ?? 2,
        assignments: opts.specs.map((s) => ({ moduleId: s.moduleId, machineId: s.id })),
      },
    };
    const configFile = join(configDir, 'plant.json');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    server = await startConsole({ configFile });
    const s = server;
    let ca: string | null = null;
    for (const start = Date.now(); ca === null && Date.now() - start < 15_000; await sleep(100)) ca = findModuleCert(s.dataDir);
    if (ca === null) throw new Error(`the console made no module channel certificate in ${s.dataDir}:\n${s.proc.output}`);
    const channel = { url: `https://127.0.0.1:${channelPort}`, ca };
    opts.specs.forEach((spec, i) => modules.push(new ModuleAgent(spec, ports[i]!, configDir, channel, join(configDir, 'root.json'))));
    await waitHealth(
      s.url,
      (h) => h.machines.length === modules.length && h.machines.every((m) => m.link.state === 'online'),
      'all module machines online',
      30_000,
      s.proc,
    );
    await addAccount(s, E2E_ADMIN);
    for (const u of opts.users ?? []) {
      await addAccount(s, u);
      if (u.pin) await setPin(s, u.name, u.pin);
    }
  } catch (err) {
    await server?.stop();
    await Promise.all(modules.map((m) => m.proc.stop()));
    rmSync(configDir, { recursive: true, force: true });
    throw err;
  }
  const srv = server;
  return {
    console: srv,
    modules,
    configDir,
    async stop() {
      await srv.stop();
      await Promise.all(modules.map((m) => m.proc.stop()));
      rmSync(configDir, { recursive: true, force: true });
    },
  };
}
