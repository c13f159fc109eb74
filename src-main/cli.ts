/**
 * `plant-console` command line: `serve` (headless web mode) and `read` (commissioning: one poll
 * of each device). Plain Node; bin/plant-console.js runs it from the build output.
 */
import { join, resolve } from 'node:path';
import { LOCAL_VIEWER } from './api/service';
import { startPlant } from './app/bootstrap';
import type { DemoPorts } from './app/demo';
import { readDevices, formatReadReport } from './app/read';
import { formatServeBanner } from './app/serve-banner';
import { KEYS_COMMANDS, runKeysCommand } from './app/keys-cli';
import { AUDIT_COMMANDS, runAuditCommand } from './app/audit-cli';
import { FIRMWARE_COMMANDS, runFirmwareCommand } from './app/firmware-cli';
import { DATA_DIR_OPTION, USER_COMMANDS, runUserCommand } from './app/user-cli';
import { STORE_COMMANDS, runStoreCommand } from './app/store-cli';
import { VERSION } from './app/version';
import { loadConfig, packageRoot } from './config/load';
import { cliErrorExit, defineCommand, defineGroup, parseCommand, selectCommand } from './core/command-line';
import { ConsoleError } from './core/errors';
import { consoleLogger, fileLogger, teeLogger, type LogLevel } from './core/log';
import { demoBeyondLoopbackMessage, isLoopbackHost, startWebServer } from './web/server';
import { setupHint } from './web/setup-route';
import { ensureCertificate, loadCertificate, namesForBind, type TlsMaterial } from './web/tls';

/** `plant-console serve`. */
export const SERVE_COMMAND = defineCommand({
  name: 'plant-console serve',
  summary: 'the console headless, in web mode: UI over HTTP(S), API over a WebSocket, GET /healthz',
  details: `Without --config it runs the embedded demo plant (SIMULATED), on loopback only: its accounts
are published. Beyond loopback (e.g. --host 0.0.0.0, with --config) it speaks only HTTPS and every
connection signs in: with the given certificate, or one generated into the data directory at first
start (its SHA-256 fingerprint is printed and shown on the console). On loopback a browser sees the
plant without sign-in (read-only) and signs in to change anything. A configured plant's store needs
its passphrase: a file named by PLANT_CONSOLE_PASSPHRASE_FILE (or the systemd credential
plant-console-passphrase; PLANT_CONSOLE_PASSPHRASE works too, but stays readable in
/proc/PID/environ), or it asks on a terminal. The demo takes free loopback ports unless the
--demo-*-port options fix them, for firewall rules or an outside supplier-cloud receiver (the
broker's address and logins: DATA-DIR/demo-cloud/broker.json). Runs until SIGINT or SIGTERM.`,
  options: {
    config: { type: 'string', arg: 'FILE', help: 'the plant configuration (JSON); without it, the embedded demo plant' },
    host: { type: 'string', arg: 'ADDR', default: '127.0.0.1', help: 'the address to listen on; beyond loopback HTTPS only' },
    port: { type: 'string', arg: 'N', default: '8080', help: 'the TCP port of the UI and API (0: a free one, printed)' },
    'data-dir': DATA_DIR_OPTION,
    'log-level': {
      type: 'string',
      arg: 'LEVEL',
      default: 'info',
      help: 'the least important log lines written: debug, info, warn or error',
    },
    'log-file': {
      type: 'string',
      arg: 'FILE',
      help: 'append the log to FILE (mode 0600) instead of standard error, which then shows errors only (npm start uses DATA-DIR/plant-console.log)',
    },
    'tls-cert': { type: 'string', arg: 'FILE', help: 'the HTTPS certificate (PEM); with --tls-key' },
    'tls-key': { type: 'string', arg: 'FILE', help: "the HTTPS certificate's private key (PEM); with --tls-cert" },
    'require-login': {
      type: 'boolean',
      help: 'sign-in before anything is shown, also on loopback (as "access": { "localViewWithoutLogin": false })',
    },
    'demo-broker-port': { type: 'string', arg: 'N', help: "the demo's MQTT broker (TLS) on this port instead of a free one" },
    'demo-modbus-port': {
      type: 'string',
      arg: 'N',
      help: "the demo's first machine's Modbus TCP port; the other two take the next ports",
    },
    'demo-module-port': { type: 'string', arg: 'N', help: "the demo IoT modules' channel (HTTPS) on this port" },
  },
  examples: [
    'plant-console serve --port 8081 --data-dir /tmp/plant-demo',
    'PLANT_CONSOLE_PASSPHRASE_FILE=/etc/plant-console/passphrase plant-console serve --config plant.json --host 0.0.0.0 --port 8443',
  ],
});

/** `plant-console read`. */
export const READ_COMMAND = defineCommand({
  name: 'plant-console read',
  summary: 'commissioning: one poll of each device, every decoded point or a clear per-device error',
  details: 'Exit code 1 when a device could not be read.',
  options: {
    config: { type: 'string', arg: 'FILE', required: true, help: 'the plant configuration (JSON) naming the devices' },
    device: { type: 'string', arg: 'ID', help: 'only this device' },
    json: { type: 'boolean', help: 'JSON instead of a table: raw registers, value, unit and quality per point' },
  },
  examples: ['plant-console read --config plant.json --device im-1'],
});

/** Every command of `plant-console`, for parsing and help. */
export const PLANT_CONSOLE = defineGroup({
  name: 'plant-console',
  summary: `the plant's operator console (${VERSION}), headless, and its administration`,
  details: 'npm start opens the console itself (Electron, or web mode where Electron cannot start).',
  commands: [SERVE_COMMAND, READ_COMMAND, KEYS_COMMANDS, USER_COMMANDS, AUDIT_COMMANDS, FIRMWARE_COMMANDS, STORE_COMMANDS],
});

type Out = { out: (s: string) => void; err: (s: string) => void };
const stdio: Out = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 0 || n > 65535) throw new ConsoleError('BAD_REQUEST', `--port must be 0–65535, got "${value}"`);
  return n;
}

/** The demo's fixed ports from `--demo-broker-port`, `--demo-modbus-port` (the first of three) and `--demo-module-port`. */
function parseDemoPorts(values: Record<string, string | boolean | undefined>): DemoPorts {
  const out: DemoPorts = {};
  const one = (option: string, key: keyof DemoPorts, last = 65535): void => {
    const raw = values[option];
    if (typeof raw !== 'string') return;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > last) throw new ConsoleError('BAD_REQUEST', `--${option} must be 1–${last}, got "${raw}"`);
    out[key] = n;
  };
  one('demo-broker-port', 'broker');
  // Three machines take this port and the next two.
  one('demo-modbus-port', 'modbus', 65533);
  one('demo-module-port', 'modules');
  const taken = new Map<number, string>();
  const claim = (port: number | undefined, what: string): void => {
    if (port === undefined) return;
    const other = taken.get(port);
    if (other) throw new ConsoleError('BAD_REQUEST', `${what} and ${other} both ask for port ${port}`);
    taken.set(port, what);
  };
  claim(out.broker, '--demo-broker-port');
  for (let i = 0; out.modbus !== undefined && i < 3; i++) claim(out.modbus + i, '--demo-modbus-port');
  claim(out.modules, '--demo-module-port');
  return out;
}

/** Runs the CLI; resolves with the exit code (serve resolves only when stopped). */
export async function runCli(argv: string[], io: Out = stdio, signals: NodeJS.Process = process): Promise<number> {
  if (argv[0] === '--version') {
    io.out(`${VERSION}\n`);
    return 0;
  }
  try {
    const { command, rest } = selectCommand(PLANT_CONSOLE, argv);
    switch (command.name) {
      case SERVE_COMMAND.name:
        return await serve(rest, io, signals);
      case READ_COMMAND.name:
        return await read(rest, io);
    }
    if (KEYS_COMMANDS.commands.includes(command)) return await runKeysCommand(argv.slice(1), io);
    if (USER_COMMANDS.commands.includes(command)) return await runUserCommand(argv.slice(1), io);
    if (AUDIT_COMMANDS.commands.includes(command)) return await runAuditCommand(argv.slice(1), io);
    if (FIRMWARE_COMMANDS.commands.includes(command)) return await runFirmwareCommand(argv.slice(1), io);
    if (STORE_COMMANDS.commands.includes(command)) return await runStoreCommand(argv.slice(1), io);
    throw new ConsoleError('INTERNAL', `${command.name} has no handler`);
  } catch (err) {
    return cliErrorExit(err, 'plant-console', io);
  }
}

async function serve(argv: string[], io: Out, signals: NodeJS.Process): Promise<number> {
  const { values } = parseCommand(SERVE_COMMAND, argv);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined))
    throw new ConsoleError('BAD_REQUEST', '--tls-cert and --tls-key go together');
  const level = values['log-level'] as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level))
    throw new ConsoleError('BAD_REQUEST', '--log-level must be debug, info, warn or error');
  const port = parsePort(values.port);
  const demoPorts = parseDemoPorts(values);
  if (values.config && Object.keys(demoPorts).length > 0)
    throw new ConsoleError(
      'BAD_REQUEST',
      'the --demo-*-port options are for the embedded demo; a configured plant sets its ports in its config file',
    );
  // With a log file the terminal keeps the banner below readable: errors only.
  const file = values['log-file'] !== undefined ? fileLogger(resolve(values['log-file']), level) : null;
  const log = file ? teeLogger(file, consoleLogger('error')) : consoleLogger(level);
  const configured = values['tls-cert'] && values['tls-key'] ? loadCertificate(values['tls-cert'], values['tls-key']) : null;
  const loopback = isLoopbackHost(values.host);
  // The SIMULATED demo's accounts are published: it never serves beyond this PC.
  if (!values.config && !loopback) throw new ConsoleError('BAD_REQUEST', demoBeyondLoopbackMessage(values.host));
  const plant = await startPlant({ configPath: values.config, dataDir: values['data-dir'], log, demoPorts });
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
      firmwareUploadDir: join(plant.dataDir, 'uploads'),
      // An unsigned loopback browser only looks, and only when the plant allows it (requireLogin otherwise).
      caller: LOCAL_VIEWER,
      requireLogin: !loopback || values['require-login'] || !plant.config.access.localViewWithoutLogin,
      ...(tls ? { tls } : {}),
    });
  } catch (err) {
    await plant.stop();
    file?.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConsoleError('UNAVAILABLE', `Port ${port} on ${values.host} is already in use: choose another with --port.`);
    }
    throw err;
  }
  const hint = setupHint({ needed: plant.setup?.needed() ?? false, url: web.url, loopbackBound: loopback, dataDir: plant.dataDir });
  if (hint) log.log('warn', hint);
  io.out(
    formatServeBanner({
      version: VERSION,
      demo: plant.demo !== null,
      configSource: plant.config.source,
      url: web.url,
      fingerprint: web.fingerprint,
      loginRequired: web.loginRequired,
      setupHint: hint,
      logFile: file ? resolve(values['log-file']!) : null,
      emphasis: io === stdio && process.stdout.isTTY === true && !process.env.NO_COLOR,
    }),
  );

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.log('info', `${sig}: stopping`);
      void web
        .close()
        .then(() => plant.stop())
        .finally(() => file?.close())
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
  const { values } = parseCommand(READ_COMMAND, argv);
  const config = loadConfig(values.config);
  for (const w of config.warnings ?? []) io.err(`plant-console: warning: ${w}\n`);
  const devices = values.device ? config.devices.filter((d) => d.id === values.device) : config.devices;
  if (devices.length === 0) {
    throw new ConsoleError(
      'BAD_REQUEST',
      `no device "${values.device}" in ${values.config} (devices: ${config.devices.map((d) => d.id).join(', ')})`,
    );
  }
  const reports = await readDevices(devices);
  io.out(values.json ? JSON.stringify({ devices: reports }, null, 2) + '\n' : formatReadReport(reports, devices));
  return reports.every((r) => r.ok) ? 0 : 1;
}
