/**
 * The SIMULATED demo plant's IoT modules: the demo's own supplier (three release keys, k = 2, in
 * `<dataDir>/demo-firmware/`, made at the first start with the root of trust and a release 1.1.0
 * for each machine model, ready to import on the Modules page), and a module-mode device agent
 * per machine (state in `<dataDir>/demo-modules/<machine>/`, A/B slots kept across restarts),
 * serving the machine over Modbus TCP and talking to the console over the module channel. Each
 * demo module asks to be paired until the console has heard it; approving it is the visitor's.
 * Its enclosure switch is the file `<dataDir>/demo-modules/<machine>.tamper` (create it: opened).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent } from '../../device-agent/agent';
import { encodeFirmwareImage } from '../../device-agent/firmware-image';
import { startModule, type ModuleRuntime } from '../../device-agent/module';
import type { Logger } from '../core/log';
import {
  FIRMWARE_MANIFEST_KIND,
  FIRMWARE_ROOT_KIND,
  formatPublicKey,
  formatSecretKey,
  generateMinisignKeyPair,
  manifestBytes,
  publicKeyLine,
  rootBytes,
  signManifest,
  writeBundle,
  type FirmwareManifest,
} from '../firmware';
import { blake2b } from '../protocol/sodium';
import type { TlsMaterial } from '../web/tls';

const DAY = 86_400_000;
/** What each model's demo release 1.1.0 changes, visibly: a faster cycle and less scrap. */
const DEMO_PARAMS = { cycleTimeFactor: 0.92, scrapFactor: 0.7, controlGain: 1.3 };

/** The demo supplier's files. */
export interface DemoFirmware {
  dir: string;
  rootFile: string;
  /** Release bundles to import, by model. */
  bundles: Record<string, string>;
  /** True when they were made now (earlier module states pin another root and are dropped). */
  created: boolean;
}

/** Makes the demo supplier's keys, root and releases in `dir` at the first start; reuses them after. */
export function ensureDemoFirmware(dir: string, models: readonly string[], now = Date.now()): DemoFirmware {
  const rootFile = join(dir, 'root.json');
  const bundles = Object.fromEntries(models.map((m) => [m, join(dir, `${m}-1.1.0.pcfw`)]));
  if (existsSync(rootFile) && models.every((m) => existsSync(bundles[m]!))) return { dir, rootFile, bundles, created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keys = [1, 2, 3].map((i) => ({ name: `demo-release-${i}`, ...generateMinisignKeyPair() }));
  for (const k of keys) {
    writeFileSync(join(dir, `${k.name}.pub`), formatPublicKey(k.pub));
    writeFileSync(join(dir, `${k.name}.key`), formatSecretKey(k.sec), { mode: 0o600 });
  }
  const root = rootBytes({
    kind: FIRMWARE_ROOT_KIND,
    version: 1,
    threshold: 2,
    keys: keys.map((k) => ({ name: k.name, publicKey: publicKeyLine(k.pub) })),
    issued: now,
  });
  writeFileSync(rootFile, root);
  for (const model of models) {
    const image = encodeFirmwareImage({
      model,
      version: '1.1.0',
      params: DEMO_PARAMS,
      notes: 'SIMULATED demo release: faster cycle, less scrap',
    });
    const manifest: FirmwareManifest = {
      kind: FIRMWARE_MANIFEST_KIND,
      formatVersion: 1,
      models: [model],
      version: '1.1.0',
      securityCounter: 1,
      image: { size: image.byteLength, blake2b512: blake2b(image, 64).toString('hex') },
      created: now - 60_000,
      expires: now + 365 * DAY,
      notes: 'SIMULATED demo release 1.1.0: cycle time −8 %, scrap −30 %',
    };
    const bytes = manifestBytes(manifest);
    writeFileSync(
      bundles[model]!,
      writeBundle({ manifest: bytes, signatures: keys.slice(0, 2).map((k) => signManifest(bytes, k.sec)), image }),
    );
  }
  return { dir, rootFile, bundles, created: true };
}

/** The demo's running modules. */
export interface DemoModules {
  runtimes: ModuleRuntime[];
  /** The agents serving the machines now (they change at every reboot into new firmware). */
  agents(): Agent[];
  stop(): Promise<void>;
}

/** Starts one module-mode device agent per machine, pointed at the console's module channel. */
export async function startDemoModules(o: {
  dataDir: string;
  machines: readonly { id: string; model: string; seed: number; port: number }[];
  host: string;
  channel: { url: string; tls: TlsMaterial };
  firmware: DemoFirmware;
  log: Logger;
}): Promise<DemoModules> {
  const base = join(o.dataDir, 'demo-modules');
  // New demo keys: what the old modules pinned is not this supplier's any more.
  if (o.firmware.created) rmSync(base, { recursive: true, force: true });
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const root = readFileSync(o.firmware.rootFile);
  const tls = { ca: o.channel.tls.cert, fingerprint256: o.channel.tls.fingerprint };
  const quiet: Logger = { log: (level, msg, fields) => (level === 'error' ? o.log.log(level, msg, fields) : undefined) };
  const runtimes: ModuleRuntime[] = [];
  try {
    for (const m of o.machines) {
      const moduleId = `mod-${m.id}`;
      const rt = await startModule({
        stateDir: join(base, m.id),
        model: m.model,
        root,
        host: o.host,
        port: m.port,
        seed: m.seed,
        // The module asks to be paired every 3 s until the console (started after the demo) answers.
        console: { url: o.channel.url, tls, heartbeatMs: 5_000, pairingRetryMs: 3_000 },
        moduleId,
        tamperFile: join(base, `${m.id}.tamper`),
        logger: quiet,
        say: (line) => o.log.log('info', `SIMULATED ${moduleId}: ${line.replace(/^device-agent: /, '')}`),
        onCrash: (message) => o.log.log('error', `SIMULATED ${moduleId} stopped: ${message}`),
      });
      runtimes.push(rt);
    }
  } catch (err) {
    await Promise.allSettled(runtimes.map((r) => r.stop()));
    throw err;
  }
  return {
    runtimes,
    agents: () =>
      runtimes.flatMap((r) => {
        try {
          return [r.agent()];
        } catch {
          return [];
        }
      }),
    async stop() {
      await Promise.allSettled(runtimes.map((r) => r.stop()));
    },
  };
}
