/**
 * The embedded demo plant: three simulated machines (device agents on loopback, spoken to
 * over real Modbus TCP) and the configuration that points the core at them.
 */
import { startAgent, type Agent } from '../../device-agent/agent';
import { resolveConfig } from '../config/load';
import type { PlantConfig } from '../config/schema';
import { silentLogger, type Logger } from '../core/log';
import { startDemoUplink, type DemoUplink } from '../uplink/demo-uplink';

const DEMO_MACHINES = [
  { id: 'im-1', name: 'Moulding 1', model: 'im250', seed: 11 },
  { id: 'press-2', name: 'Press 2', model: 'hp200', seed: 22 },
  { id: 'pack-3', name: 'Packing 3', model: 'pk60', seed: 33 },
] as const;

export interface DemoPlant {
  config: PlantConfig;
  agents: Agent[];
  /** The embedded broker and demo cloud keys (null without a data dir, or without openssl). */
  uplink: DemoUplink | null;
  stop(): Promise<void>;
}

/** Starts the demo agents on ephemeral loopback ports and returns the plant config for them. */
export async function startDemoPlant(opts: { host?: string; dataDir?: string; log?: Logger } = {}): Promise<DemoPlant> {
  const host = opts.host ?? '127.0.0.1';
  const agents: Agent[] = [];
  try {
    for (const m of DEMO_MACHINES) {
      agents.push(await startAgent({ host, port: 0, model: m.model, unitId: 1, seed: m.seed }));
    }
  } catch (err) {
    await Promise.allSettled(agents.map((a) => a.stop()));
    throw err;
  }
  // SIMULATED end to end: an embedded TLS broker and demo cloud keys in <dataDir>/demo-cloud/.
  const log = opts.log ?? silentLogger;
  const uplink = opts.dataDir
    ? await startDemoUplink({ dataDir: opts.dataDir, log, host }).catch((err: unknown) => {
        log.log('warn', 'SIMULATED demo: the embedded broker did not start; the demo runs without an uplink', { error: String(err) });
        return null;
      })
    : null;
  const data = {
    plant: { name: 'Demo plant', timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' },
    // SIMULATED: the demo shows the whole loop, setpoint changes included, without setup.
    writes: { enabled: true },
    access: { localRole: 'maintenance' },
    devices: DEMO_MACHINES.map((m, i) => ({
      id: m.id,
      name: m.name,
      profile: `builtin:${m.model}`,
      transport: { type: 'tcp', host, port: agents[i]!.port },
      unitId: 1,
      pollIntervalMs: 500,
      timeoutMs: 1000,
      retries: 1,
    })),
    ...(uplink ? { uplink: uplink.uplink } : {}),
  };
  const config = resolveConfig(data, '(embedded demo plant)', { simulated: true });
  return {
    config,
    agents,
    uplink,
    async stop() {
      await Promise.allSettled(agents.map((a) => a.stop()));
      await uplink?.stop();
    },
  };
}
