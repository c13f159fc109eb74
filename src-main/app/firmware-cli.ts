/**
 * `plant-console firmware import FILE` and `firmware list`: a release bundle from a USB stick at
 * a plant without an uplink, judged exactly as the UI's import (src-main/modules/library.ts:
 * signatures against the pinned root, threshold, expiry, models, size, hash, rollback) and
 * stored in the encrypted store, audited as the operating-system user who ran it. A console
 * running on the same store sees the new release at once; a refusal is kept with its reason.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { AuditLog } from '../audit/log';
import { loadConfig } from '../config/load';
import { defineCommand, defineGroup, parseCommand, selectCommand } from '../core/command-line';
import { ConsoleError } from '../core/errors';
import { consoleLogger } from '../core/log';
import { parseRoot, type InstalledFirmware } from '../firmware';
import { FirmwareLibrary, ImportRefused, MAX_IMPORT_BYTES } from '../modules/library';
import { ModuleRegistry } from '../modules/registry';
import { pinRoot } from '../modules/root';
import { ModuleStore } from '../modules/store';
import { cliActor, DATA_DIR_OPTION, openStoreForCli, type StoreCliDeps } from './user-cli';

type Out = { out: (s: string) => void; err: (s: string) => void };

const iso = (t: number): string => new Date(t).toISOString().slice(0, 16).replace('T', ' ');

const FIRMWARE_OPTIONS = {
  'data-dir': DATA_DIR_OPTION,
  config: {
    type: 'string',
    arg: 'FILE',
    help: "the plant configuration: pins its firmware root at the first use and adds the assigned machines' models",
  },
  json: { type: 'boolean', help: 'JSON instead of text' },
} as const;

/** `plant-console firmware import`. */
export const FIRMWARE_IMPORT_COMMAND = defineCommand({
  name: 'plant-console firmware import',
  summary: 'a release bundle from a file (USB stick), verified and stored, or refused with the reason',
  details:
    'Checked as the Modules page checks it: signatures against the pinned firmware root, threshold, expiry, model, size, hash, no rollback. Exit code 1 names the refusal. Approve it for modules on the Modules page.',
  options: FIRMWARE_OPTIONS,
  args: [{ name: 'FILE', help: 'the release bundle (.pcfw)' }],
  examples: ['plant-console firmware import /media/usb/im250-1.1.0.pcfw --data-dir /var/lib/plant-console'],
});

/** `plant-console firmware list`. */
export const FIRMWARE_LIST_COMMAND = defineCommand({
  name: 'plant-console firmware list',
  summary: 'the pinned firmware root, the stored releases and the latest refusals',
  options: FIRMWARE_OPTIONS,
  examples: ['plant-console firmware list --data-dir /var/lib/plant-console'],
});

/** `plant-console firmware …`. */
export const FIRMWARE_COMMANDS = defineGroup({
  name: 'plant-console firmware',
  summary: 'signed firmware releases for the IoT modules: import, list',
  commands: [FIRMWARE_IMPORT_COMMAND, FIRMWARE_LIST_COMMAND],
});

/** `firmware <subcommand>`; resolves with the exit code (1: refused), throws ConsoleErrors for the CLI to print. */
export async function runFirmwareCommand(argv: string[], io: Out, deps: StoreCliDeps = {}): Promise<number> {
  const { command, rest } = selectCommand(FIRMWARE_COMMANDS, argv);
  const sub = command === FIRMWARE_IMPORT_COMMAND ? 'import' : 'list';
  // Both take the same options; import also its FILE.
  const { values, positionals } = parseCommand(sub === 'import' ? FIRMWARE_IMPORT_COMMAND : FIRMWARE_LIST_COMMAND, rest);
  const file = positionals[0];
  // Read before the store is unlocked: a wrong path is said without asking for a passphrase. A
  // file too large to be a bundle is not read into memory, but refused like any other bundle.
  let bytes: Buffer | null = null;
  let oversized: number | null = null;
  if (file !== undefined) {
    const size = statSync(file, { throwIfNoEntry: false })?.size;
    if (size === undefined) throw new ConsoleError('NOT_FOUND', `No file ${file}`);
    if (size > MAX_IMPORT_BYTES) oversized = size;
    else bytes = readFileSync(file);
  }
  const config = values.config !== undefined ? loadConfig(values.config) : null;
  const store = await openStoreForCli(values['data-dir'], deps, io);
  const log = deps.log ?? consoleLogger('warn', (line) => io.err(line + '\n'));
  const audit = new AuditLog(store.db, store.identity, { log, timers: false });
  try {
    const modules = new ModuleStore(store.db, log);
    const now = Date.now();
    let root;
    if (config?.modules) {
      const rootFile = isAbsolute(config.modules.root)
        ? config.modules.root
        : resolve(dirname(resolve(values.config!)), config.modules.root);
      root = pinRoot({ store: modules, file: rootFile, audit, log, now }).root;
    } else {
      const pinned = modules.root();
      if (!pinned)
        throw new ConsoleError(
          'CONFIG_INVALID',
          'No firmware root is pinned in this store: give --config FILE (with its modules section) or start the console once',
        );
      root = parseRoot(pinned.root);
    }
    const registry = new ModuleRegistry(modules, { now: () => now, maxSkewMs: 0, log });
    const paired = registry.list().filter((m) => m.pairing === 'paired');
    const models = new Set(paired.map((m) => m.model));
    for (const a of config?.modules?.assignments ?? []) {
      const d = config!.devices.find((x) => x.id === a.machineId);
      if (d) models.add(d.profileDef.model);
    }
    const library: FirmwareLibrary = new FirmwareLibrary({
      store: modules,
      audit,
      log,
      now: () => now,
      root: () => root,
      models: () => models,
      installed: (model): InstalledFirmware[] =>
        paired
          .filter((m) => m.model === model && m.last)
          .map((m) => {
            const fw = m.last!.firmware;
            const counter = library.byImage(fw.blake2b512)?.info.securityCounter ?? 0;
            return { version: fw.version, securityCounter: counter, ...(fw.state === 'factory' ? {} : { blake2b512: fw.blake2b512 }) };
          }),
      changed: () => undefined,
    });
    if (sub === 'list') {
      const releases = library.list();
      const refused = library.refused(20);
      if (values.json) {
        io.out(
          JSON.stringify(
            { root: { version: root.version, threshold: root.threshold, keys: root.keys.map((k) => k.name) }, releases, refused },
            null,
            2,
          ) + '\n',
        );
        return 0;
      }
      const lines = [`Firmware root v${root.version}: ${root.threshold} of ${root.keys.map((k) => k.name).join(', ')}`, ''];
      if (releases.length === 0) lines.push('No releases yet: import one with "plant-console firmware import FILE".');
      for (const r of releases)
        lines.push(
          `${r.id.padEnd(28)} ${r.version.padEnd(9)} ${r.models.join(',').padEnd(14)} counter ${r.securityCounter}  ${r.size} B  expires ${iso(r.expires)}  ${r.source} by ${r.importedBy} ${iso(r.importedAt)}`,
        );
      if (refused.length)
        lines.push('', 'Refused:', ...refused.map((r) => `${iso(r.at)}  ${r.fileName ?? r.ref}  ${r.code}: ${r.message}`));
      io.out(lines.join('\n') + '\n');
      return 0;
    }
    try {
      const from = { source: 'file' as const, fileName: basename(file!), caller: null, actor: cliActor() };
      if (oversized !== null) throw library.refuseTooLarge(oversized, from);
      const r = library.import(bytes!, from);
      io.out(
        values.json
          ? JSON.stringify(r, null, 2) + '\n'
          : `Imported firmware ${r.version} as ${r.id} for ${r.models.join(', ')}: signed by ${r.signers.join(', ')} (${r.threshold} needed); image ${r.size} bytes, expires ${iso(r.expires)}.\n` +
              'Approve it for modules on the Modules page.\n',
      );
      return 0;
    } catch (err) {
      if (!(err instanceof ImportRefused)) throw err;
      io.err(`plant-console: refused (${err.refusal}): ${err.message}\n`);
      return 1;
    }
  } finally {
    audit.close();
    store.close();
  }
}
