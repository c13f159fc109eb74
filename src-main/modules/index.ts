/**
 * The module manager wired to a running plant (bootstrap.ts): the pinned root, the store tables,
 * the manager, its HTTPS channel with its own certificate (generated into
 * `<dataDir>/modules/web-tls/` at first start unless given; modules pin the file and its
 * fingerprint), and, when the plant has an uplink, the `firmware` downlink handler and sealed
 * health events. Built only when the config has a `modules` section.
 */
import { isAbsolute, join, resolve } from 'node:path';
import type { AuditSink } from '../audit/record';
import type { ConfirmGate } from '../auth/confirm-gate';
import type { Logger } from '../core/log';
import type { StoreDb } from '../store/schema';
import type { DownlinkHandler } from '../uplink/downlink';
import { ensureCertificate, type TlsMaterial } from '../web/tls';
import { startModuleChannel, type ModuleChannel } from './channel';
import type { ModulesConfig } from './config';
import { firmwareDownlinkHandler } from './downlink';
import type { HealthQueue } from './events';
import { ModuleManager, type ModuleHost } from './manager';
import { pinRoot } from './root';
import { ModuleStore } from './store';

export { ModuleManager } from './manager';
export { ModuleStore } from './store';
export type { ModulesConfig } from './config';

/** What the module system needs of the uplink: health events out, firmware messages in. */
export interface ModuleUplink extends HealthQueue {
  readonly downlink: { setHandler(type: 'firmware', handler: DownlinkHandler | null): void };
}

export interface ModuleSystemOptions {
  config: ModulesConfig;
  /** Where `modules.root` is resolved from (the config file's directory). */
  configDir: string;
  dataDir: string;
  host: ModuleHost;
  db: StoreDb;
  audit?: AuditSink | undefined;
  confirm?: ConfirmGate | undefined;
  uplink?: ModuleUplink | null;
  log: Logger;
  /** The channel's certificate (default: generated into the data dir). */
  tls?: TlsMaterial;
}

export interface ModuleSystem {
  manager: ModuleManager;
  channel: ModuleChannel;
  /** What modules pin: the certificate file and its SHA-256 fingerprint. */
  tls: TlsMaterial;
  stop(): Promise<void>;
}

/** The channel's certificate for `host` and the extra names, made on first use. */
export function moduleChannelCertificate(
  dataDir: string,
  config: Pick<ModulesConfig, 'host' | 'certificateNames'>,
  log?: Logger,
): Promise<TlsMaterial> {
  return ensureCertificate({
    dataDir: join(dataDir, 'modules'),
    hosts: [config.host, ...config.certificateNames],
    ...(log ? { log } : {}),
  });
}

/** Pins the root, opens the tables, starts the manager and its channel. */
export async function startModuleSystem(o: ModuleSystemOptions): Promise<ModuleSystem> {
  const store = new ModuleStore(o.db, o.log);
  const rootFile = isAbsolute(o.config.root) ? o.config.root : resolve(o.configDir, o.config.root);
  const root = pinRoot({ store, file: rootFile, audit: o.audit, log: o.log, now: o.host.clock.now() });
  const tls = o.tls ?? (await moduleChannelCertificate(o.dataDir, o.config, o.log));
  const manager = new ModuleManager({
    config: o.config,
    host: o.host,
    store,
    root,
    audit: o.audit,
    confirm: o.confirm,
    health: o.uplink ?? null,
    log: o.log,
  });
  const channel = await startModuleChannel({
    host: o.config.host,
    port: o.config.port,
    tls,
    handlers: manager.handlers,
    log: o.log,
    clock: o.host.clock,
  });
  manager.start();
  o.uplink?.downlink.setHandler('firmware', firmwareDownlinkHandler(manager));
  o.log.log('info', 'Module manager running', {
    channel: channel.url,
    fingerprint: tls.fingerprint,
    root: `v${root.root.version} (${root.root.threshold} of ${root.root.keys.length})`,
    window:
      o.config.maintenanceWindow === 'always'
        ? 'always'
        : `${o.config.maintenanceWindow.days.join(',')} ${o.config.maintenanceWindow.start}–${o.config.maintenanceWindow.end}`,
  });
  return {
    manager,
    channel,
    tls,
    async stop() {
      o.uplink?.downlink.setHandler('firmware', null);
      manager.close();
      await channel.close();
    },
  };
}
