/**
 * A real Debian mosquitto for integration tests, configured by the reference file the
 * documentation ships (docs/mosquitto/mosquitto.conf: persistence, queue limits, TLS, passwords,
 * ACL): only its paths and listener are replaced, with certificates made here by openssl (EC
 * P-256 CA and server certificate for localhost/127.0.0.1), on a free loopback port, started,
 * restarted (its persistence kept) and stopped by the test.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MOSQUITTO = '/usr/sbin/mosquitto';
/** The reference configuration the documentation ships. */
export const REFERENCE_CONF = join(import.meta.dirname, '../../docs/mosquitto/mosquitto.conf');

export interface BrokerUser {
  username: string;
  password: string;
  /** ACL lines for this user, e.g. `topic write pc/v1/abc/#`. */
  acl: string[];
}

export interface Broker {
  host: string;
  port: number;
  /** PEM of the CA that signed the server certificate. */
  ca: Buffer;
  /** PEM of a CA that did not (for refusal tests). */
  otherCa: Buffer;
  dir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  log(): string;
}

/** True when Debian's mosquitto and openssl are installed. */
export function brokerAvailable(): boolean {
  return existsSync(MOSQUITTO) && existsSync('/usr/bin/openssl') && existsSync('/usr/bin/mosquitto_passwd');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function openssl(args: string[], cwd: string): void {
  execFileSync('/usr/bin/openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
  openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-sha256', '-days', '2', '-subj', `/CN=${name}`, '-out', `${name}.crt`], dir);
}

/** What a test changes of the reference configuration. */
export interface BrokerOptions {
  /** Settings that replace the reference file's (e.g. a small `max_queued_messages`). */
  override?: Record<string, string>;
  /** The ACL file's text (e.g. the reference docs/mosquitto/acl) instead of the users' own lines. */
  acl?: string;
}

/** The reference ACL the documentation ships. */
export const REFERENCE_ACL = join(import.meta.dirname, '../../docs/mosquitto/acl');

/** The reference configuration with this broker's paths, listener and the test's overrides. */
function referenceConfig(dir: string, port: number, override: Record<string, string>): string {
  const paths: Record<string, string> = {
    password_file: join(dir, 'passwd'),
    acl_file: join(dir, 'acl'),
    persistence_location: join(dir, 'persist') + '/',
    cafile: join(dir, 'ca.crt'),
    certfile: join(dir, 'server.crt'),
    keyfile: join(dir, 'server.key'),
    listener: `${port} 127.0.0.1`,
    log_dest: 'stderr',
  };
  const seen = new Set<string>();
  const lines = readFileSync(REFERENCE_CONF, 'utf8')
    .split('\n')
    .map((line) => {
      const m = /^([a-z_]+)\s+(.*)$/.exec(line);
      if (!m) return line;
      const key = m[1]!;
      seen.add(key);
      const value = override[key] ?? paths[key];
      return value === undefined ? line : `${key} ${value}`;
    });
  for (const [k, v] of Object.entries(override)) if (!seen.has(k)) lines.push(`${k} ${v}`);
  if (!seen.has('listener')) throw new Error(`${REFERENCE_CONF} has no listener line`);
  return lines.join('\n');
}

/** Makes certificates, password and ACL files, and starts mosquitto on the reference configuration on a free port. */
export async function startBroker(users: BrokerUser[], opts: BrokerOptions = {}): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'pc-mosquitto-'));
  // Started as root, mosquitto drops to its own user: it must be able to read these test files.
  chmodSync(dir, 0o755);
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key'], dir);
  openssl(['req', '-new', '-key', 'server.key', '-subj', '/CN=localhost', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-sha256',
      '-extfile',
      'san.ext',
      '-out',
      'server.crt',
    ],
    dir,
  );
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, '');
  for (const u of users) execFileSync('/usr/bin/mosquitto_passwd', ['-b', passwd, u.username, u.password], { stdio: 'ignore' });
  writeFileSync(join(dir, 'acl'), opts.acl ?? users.map((u) => [`user ${u.username}`, ...u.acl, ''].join('\n')).join('\n'));
  for (const f of ['server.key', 'server.crt', 'ca.crt', 'passwd', 'acl']) chmodSync(join(dir, f), 0o644);

  // Persistence is written by the broker's own user.
  mkdirSync(join(dir, 'persist'), { mode: 0o777 });
  chmodSync(join(dir, 'persist'), 0o777);
  const port = await freePort();
  writeFileSync(join(dir, 'mosquitto.conf'), referenceConfig(dir, port, opts.override ?? {}));

  let child: ChildProcess | null = null;
  let output = '';
  const start = async (): Promise<void> => {
    child = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const until = Date.now() + 10_000;
    // Startup is a process we don't control: poll the port, bounded.
    while (Date.now() < until) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited at start: ${output}`);
      const ok = await new Promise<boolean>((r) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          r(true);
        });
        s.on('error', () => r(false));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`mosquitto did not listen on ${port} within 10 s: ${output}`);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((r) => {
      c.once('exit', () => r());
      c.kill('SIGTERM');
    });
  };
  await start();
  return {
    host: '127.0.0.1',
    port,
    ca: readFileSync(join(dir, 'ca.crt')),
    otherCa: readFileSync(join(dir, 'other-ca.crt')),
    dir,
    start,
    async stop() {
      await stop();
    },
    log: () => output,
  };
}

/** Stops the broker and removes its files. */
export async function disposeBroker(b: Broker | undefined): Promise<void> {
  if (!b) return;
  await b.stop();
  rmSync(b.dir, { recursive: true, force: true });
}
