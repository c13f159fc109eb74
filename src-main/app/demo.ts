/**
 * The embedded demo plant: three simulated machines (device agents on loopback, spoken to
 * over real Modbus TCP) and the configuration that points the core at them. With a data dir
 * each machine carries an IoT module (module-mode device agents, src-main/modules/demo.ts):
 * they ask to be paired on the Modules page, and a signed demo release 1.1.0 per model waits in
 * `<dataDir>/demo-firmware/` to be imported and rolled out.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startAgent, type Agent } from '../../device-agent/agent';
import { moduleChannelCertificate } from '../modules';
import { ensureDemoFirmware, startDemoModules, type DemoModules } from '../modules/demo';
import { resolveConfig } from '../config/load';
import type { PlantConfig } from '../config/schema';
import { ConsoleError } from '../core/errors';
import { silentLogger, type Logger } from '../core/log';
import { startDemoUplink, type DemoUplink } from '../uplink/demo-uplink';

const DEMO_MACHINES = [
  { id: 'im-1', name: 'Moulding 1', model: 'im250', seed: 11 },
  { id: 'press-2', name: 'Press 2', model: 'hp200', seed: 22 },
  { id: 'pack-3', name: 'Packing 3', model: 'pk60', seed: 33 },
] as const;

/** Fixed ports for the demo (firewall rules, an outside receiver); each absent one is picked free. */
export interface DemoPorts {
  /** The embedded MQTT broker (TLS). */
  broker?: number;
  /** The first machine's Modbus TCP port; the others follow (+1, +2). */
  modbus?: number;
  /** The module channel (HTTPS) the demo's IoT modules connect to. */
  modules?: number;
}

/** The Modbus TCP ports of the demo's machines: from `first` on, or free ones. */
async function machinePorts(host: string, first: number | undefined): Promise<number[]> {
  if (first === undefined) return Promise.all(DEMO_MACHINES.map(() => freePort(host)));
  return DEMO_MACHINES.map((_, i) => first + i);
}

/** The errno code of `err` or of an error it wraps (EADDRINUSE, EACCES…). */
function errnoOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('E')) return code;
  }
  return undefined;
}

/** A port someone chose is taken or not theirs to use: an error naming the option; anything else as it was. */
export function portProblem(option: string, port: number, err: unknown): unknown {
  const code = errnoOf(err);
  if (code !== 'EADDRINUSE' && code !== 'EACCES') return err;
  const why = code === 'EADDRINUSE' ? 'is already in use' : 'needs privileges this process does not have';
  return new ConsoleError('UNAVAILABLE', `${option} ${port}: the port ${why}; choose another`, { cause: err });
}

export interface DemoPlant {
  config: PlantConfig;
  agents: Agent[];
  /** The embedded broker and demo cloud keys (null without a data dir, or without openssl). */
  uplink: DemoUplink | null;
  stop(): Promise<void>;
}

/** A free port on `host` (a module keeps its port across the reboots into new firmware). */
async function freePort(host: string): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => s.once('error', reject).listen(0, host, resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** The demo's IoT modules and the config section for them; null when they cannot start (no openssl). */
async function demoModules(
  dataDir: string,
  host: string,
  log: Logger,
  fixed: DemoPorts,
): Promise<{ modules: DemoModules; section: Record<string, unknown>; ports: number[] } | null> {
  try {
    const ports = await machinePorts(host, fixed.modbus);
    const port = fixed.modules ?? (await freePort(host));
    const section = { root: '', host, port, heartbeatS: 5, maintenanceWindow: 'always', soakS: 30, certificateNames: [] as string[] };
    const tls = await moduleChannelCertificate(dataDir, { host, certificateNames: [] }, log);
    const firmware = ensureDemoFirmware(join(dataDir, 'demo-firmware'), [...new Set(DEMO_MACHINES.map((m) => m.model))]);
    const modules = await startDemoModules({
      dataDir,
      machines: DEMO_MACHINES.map((m, i) => ({ ...m, port: ports[i]! })),
      host,
      channel: { url: `https://${host}:${port}`, tls },
      firmware,
      log,
    });
    section.root = firmware.rootFile;
    const assignments = DEMO_MACHINES.map((m) => ({ moduleId: `mod-${m.id}`, machineId: m.id }));
    log.log('info', 'SIMULATED demo: IoT modules on every machine; pair them on the Modules page', {
      releases: Object.values(firmware.bundles),
    });
    return { modules, section: { ...section, assignments }, ports };
  } catch (err) {
    // A port someone chose that is taken is theirs to fix: refuse rather than run a demo without what they set up.
    if (fixed.modbus !== undefined && portProblem('--demo-modbus-port', fixed.modbus, err) !== err)
      throw portProblem('--demo-modbus-port', fixed.modbus, err);
    log.log('warn', 'SIMULATED demo: the IoT modules did not start; the machines run without them', { error: String(err) });
    return null;
  }
}

/** Starts the demo agents on loopback (free ports unless `ports` fixes them) and returns the plant config for them. */
export async function startDemoPlant(opts: { host?: string; dataDir?: string; log?: Logger; ports?: DemoPorts } = {}): Promise<DemoPlant> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? silentLogger;
  const fixed = opts.ports ?? {};
  const withModules = opts.dataDir ? await demoModules(opts.dataDir, host, log, fixed) : null;
  const agents: Agent[] = withModules ? withModules.modules.agents() : [];
  try {
    if (!withModules) {
      for (const [i, m] of DEMO_MACHINES.entries()) {
        const port = fixed.modbus === undefined ? 0 : fixed.modbus + i;
        agents.push(
          await startAgent({ host, port, model: m.model, unitId: 1, seed: m.seed }).catch((err: unknown) => {
            throw fixed.modbus === undefined ? err : portProblem('--demo-modbus-port', port, err);
          }),
        );
      }
    }
  } catch (err) {
    await Promise.allSettled(agents.map((a) => a.stop()));
    await withModules?.modules.stop();
    throw err;
  }
  // SIMULATED end to end: an embedded TLS broker and demo cloud keys in <dataDir>/demo-cloud/.
  let uplink: DemoUplink | null = null;
  try {
    uplink = opts.dataDir
      ? await startDemoUplink({ dataDir: opts.dataDir, log, host, ...(fixed.broker ? { port: fixed.broker } : {}) })
      : null;
  } catch (err) {
    if (fixed.broker !== undefined && portProblem('--demo-broker-port', fixed.broker, err) !== err) {
      await Promise.allSettled(withModules ? [withModules.modules.stop()] : agents.map((a) => a.stop()));
      throw portProblem('--demo-broker-port', fixed.broker, err);
    }
    log.log('warn', 'SIMULATED demo: the embedded broker did not start; the demo runs without an uplink', { error: String(err) });
  }
  const data = {
    plant: { name: 'Demo plant', timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' },
    // SIMULATED: the demo shows the whole loop, setpoint changes included, without setup; changes
    // need a sign-in with one of the demo accounts its banner's help lists (auth/demo.ts).
    writes: { enabled: true },
    devices: DEMO_MACHINES.map((m, i) => ({
      id: m.id,
      name: m.name,
      profile: `builtin:${m.model}`,
      transport: { type: 'tcp', host, port: withModules ? withModules.ports[i]! : agents[i]!.port },
      unitId: 1,
      pollIntervalMs: 500,
      timeoutMs: 1000,
      retries: 1,
    })),
    ...(uplink ? { uplink: uplink.uplink } : {}),
    ...(withModules ? { modules: withModules.section } : {}),
  };
  const config = resolveConfig(data, '(embedded demo plant)', { simulated: true });
  return {
    config,
    agents,
    uplink,
    async stop() {
      await Promise.allSettled(withModules ? [withModules.modules.stop()] : agents.map((a) => a.stop()));
      await uplink?.stop();
    },
  };
}
