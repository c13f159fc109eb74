/**
 * `plant-console` command line: `serve` (headless web mode) and `read` (commissioning: one poll
 * of each device). Plain Node; bin/plant-console.js runs it from the build output.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { startPlant } from './app/bootstrap';
import { readDevices, formatReadReport } from './app/read';
import { runKeysCommand } from './app/keys-cli';
import { runAuditCommand } from './app/audit-cli';
import { runFirmwareCommand } from './app/firmware-cli';
import { runUserCommand } from './app/user-cli';
import { VERSION } from './app/version';
import { loadConfig, packageRoot } from './config/load';
import { ConsoleError } from './core/errors';
import { consoleLogger, type LogLevel } from './core/log';
import { isLoopbackHost, startWebServer } from './web/server';
import { setupHint } from './web/setup-route';
import { ensureCertificate, loadCertificate, namesForBind, type TlsMaterial } from './web/tls';

const USAGE = `plant-console ${VERSION}

Usage:
  plant-console serve [--config FILE] [--host 127.0.0.1] [--port 8080] [--data-dir DIR]
                     [--tls-cert FILE --tls-key FILE] [--require-login]
      The console headless, in web mode: UI over HTTP, API over a WebSocket, GET /healthz.
      Without --config it runs the embedded demo plant (SIMULATED). Beyond loopback (e.g.
      --host 0.0.0.0) it speaks only HTTPS and every connection signs in: with the given
      certificate, or one generated into the data dir at first start (its SHA-256 fingerprint
      is printed and shown on the console). On loopback a browser sees the plant without
      sign-in (read-only) and signs in to change anything; --require-login (or the config's
      "access": { "localViewWithoutLogin": false }) asks for sign-in before anything is shown.
  plant-console read --config FILE [--device ID] [--json]
      Commissioning: one poll of each device, every decoded point or a clear per-device error.
      Exit code 1 when a device could not be read.
  plant-console keys show [--data-dir DIR] [--config FILE] [--json]
      The plant's pseudonym, public keys (Ed25519 signing, X25519 encryption), key ids and
      fingerprints, for the supplier to register. Unlocks the store with PLANT_CONSOLE_PASSPHRASE
      or asks on the terminal. Exit code 1 when the store is locked or the passphrase is wrong.
  plant-console keys rotate [--data-dir DIR] [--config FILE] [--grace 7d] [--json]
      A new signing key; the old one is retired and signs the announcement, queued in the uplink
      outbox ahead of every batch. The cloud accepts the old key for the grace period. Run it
      with the console stopped (a running console signs with its old key until restarted).
  plant-console user add --name NAME --role ROLE [--data-dir DIR]
      A local account (operator, maintenance, admin, supplier-support). The password is read
      from standard input: asked twice without echo on a terminal, or the first piped line.
  plant-console user list [--json] | user disable|enable --name NAME | user reset --name NAME
  plant-console user pin --name NAME [--remove]
      Reset and pin read the new password or PIN from standard input as add does.
  plant-console audit verify [--data-dir DIR] [--public-key KEY] [--json]
      Checks the audit log's hash chain and signed heads; exit code 1 names the first bad record.
  plant-console audit export [--data-dir DIR] [--format jsonl|csv] [--out FILE]
                             [--from TIME] [--to TIME] [--user NAME] [--kind K,K] [--machine ID]
  plant-console firmware import FILE [--data-dir DIR] [--config FILE] [--json]
      A release bundle from a file (USB stick), checked as the Modules page checks it: signatures
      against the pinned firmware root, threshold, expiry, model, size, hash, no rollback. Exit
      code 1 names the refusal. --config pins the root at the first use and adds the assigned
      machines' models. Approve it for modules on the Modules page.
  plant-console firmware list [--data-dir DIR] [--config FILE] [--json]
  plant-console --help | --version
`;

type Out = { out: (s: string) => void; err: (s: string) => void };
const stdio: Out = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

function usageError(io: Out, message: string): number {
  io.err(`plant-console: ${message}\nRun "plant-console --help" for usage.\n`);
  return 2;
}

function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 0 || n > 65535) throw new ConsoleError('BAD_REQUEST', `--port must be 0–65535, got "${value}"`);
  return n;
}

/** Runs the CLI; resolves with the exit code (serve resolves only when stopped). */
export async function runCli(argv: string[], io: Out = stdio, signals: NodeJS.Process = process): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version') {
    io.out(`${VERSION}\n`);
    return 0;
  }
  try {
    if (command === 'serve') return await serve(rest, io, signals);
    if (command === 'read') return await read(rest, io);
    if (command === 'keys') return await runKeysCommand(rest, io);
    if (command === 'user') return await runUserCommand(rest, io);
    if (command === 'audit') return await runAuditCommand(rest, io);
    if (command === 'firmware') return await runFirmwareCommand(rest, io);
  } catch (err) {
    if (err instanceof ConsoleError) {
      io.err(`plant-console: ${err.message}\n`);
      return err.code === 'BAD_REQUEST' ? 2 : 1;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      return usageError(io, err.message);
    }
    throw err;
  }
  return usageError(io, `unknown command "${command}"`);
}

async function serve(argv: string[], io: Out, signals: NodeJS.Process): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      config: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'require-login': { type: 'boolean', default: false },
    },
  });
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined))
    return usageError(io, '--tls-cert and --tls-key go together');
  const level = values['log-level'] as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) return usageError(io, '--log-level must be debug, info, warn or error');
  const log = consoleLogger(level);
  const port = parsePort(values.port, 8080);
  const configured = values['tls-cert'] && values['tls-key'] ? loadCertificate(values['tls-cert'], values['tls-key']) : null;
  const loopback = isLoopbackHost(values.host);
  const plant = await startPlant({ configPath: values.config, dataDir: values['data-dir'], log });
  let web;
  try {
    const tls: TlsMaterial | null =
      configured ?? (loopback ? null : await ensureCertificate({ dataDir: plant.dataDir, hosts: namesForBind(values.host), log }));
    web = await startWebServer({
      api: plant.api,
      core: plant.core,
      host: values.host,
      port,
      staticDir: join(packageRoot(), 'out', 'renderer'),
      log,
      auth: plant.auth,
      remote: plant.remote.support,
      setup: plant.setup,
      requireLogin: !loopback || values['require-login'] || !plant.config.access.localViewWithoutLogin,
      ...(tls ? { tls } : {}),
    });
  } catch (err) {
    await plant.stop();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConsoleError('UNAVAILABLE', `Port ${port} on ${values.host} is already in use: choose another with --port.`);
    }
    throw err;
  }
  const mode = plant.demo ? 'embedded demo plant (SIMULATED)' : `config ${plant.config.source}`;
  io.out(`Plant Console ${VERSION} in web mode — ${mode}\nOpen ${web.url}\n`);
  if (web.fingerprint) io.out(`TLS certificate SHA-256 fingerprint: ${web.fingerprint}\n`);
  if (web.loginRequired) io.out('Sign-in required for every connection\n');
  const hint = setupHint({ needed: plant.setup?.needed() ?? false, url: web.url, loopbackBound: loopback, dataDir: plant.dataDir });
  if (hint) log.log('warn', hint);

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.log('info', `${sig}: stopping`);
      void web
        .close()
        .then(() => plant.stop())
        .then(
          () => resolveExit(0),
          () => resolveExit(1),
        );
    };
    signals.once('SIGINT', () => stop('SIGINT'));
    signals.once('SIGTERM', () => stop('SIGTERM'));
  });
}

async function read(argv: string[], io: Out): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      config: { type: 'string' },
      device: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.config) return usageError(io, 'read needs --config FILE');
  const config = loadConfig(values.config);
  const devices = values.device ? config.devices.filter((d) => d.id === values.device) : config.devices;
  if (devices.length === 0) {
    return usageError(io, `no device "${values.device}" in ${values.config} (devices: ${config.devices.map((d) => d.id).join(', ')})`);
  }
  const reports = await readDevices(devices);
  io.out(values.json ? JSON.stringify({ devices: reports }, null, 2) + '\n' : formatReadReport(reports, devices));
  return reports.every((r) => r.ok) ? 0 : 1;
}
