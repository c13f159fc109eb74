/**
 * A real Debian mosquitto for integration tests: TLS with certificates made here by openssl
 * (EC P-256 CA and server certificate for localhost/127.0.0.1), password authentication and
 * an ACL, on a free loopback port, started and stopped by the test.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MOSQUITTO = '/usr/sbin/mosquitto';

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

/** Makes certificates, password and ACL files, and starts mosquitto with TLS on a free port. */
export async function startBroker(users: BrokerUser[]): Promise<Broker> {
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
  writeFileSync(join(dir, 'acl'), users.map((u) => [`user ${u.username}`, ...u.acl, ''].join('\n')).join('\n'));
  for (const f of ['server.key', 'server.crt', 'ca.crt', 'passwd', 'acl']) chmodSync(join(dir, f), 0o644);

  const port = await freePort();
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      'per_listener_settings false',
      'allow_anonymous false',
      `password_file ${passwd}`,
      `acl_file ${join(dir, 'acl')}`,
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      `listener ${port} 127.0.0.1`,
      `cafile ${join(dir, 'ca.crt')}`,
      `certfile ${join(dir, 'server.crt')}`,
      `keyfile ${join(dir, 'server.key')}`,
      'tls_version tlsv1.2',
      'max_inflight_messages 1000',
      'max_queued_messages 100000',
      '',
    ].join('\n'),
  );

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
