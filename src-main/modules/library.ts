/**
 * The console's firmware library: the releases it verified and holds (the only ones it ever
 * offers to a module), and the bundles it refused, each with its reason. Imports come from a
 * file (the UI's `firmware.import`, `plant-console firmware import`) or from the downlink; each
 * is judged (releases.ts), stored with its image in the encrypted store, and audited
 * (`firmware_imported` or `firmware_refused`). A refused bundle is never installable: nothing
 * of it is kept but the reason.
 */
import { randomUUID } from 'node:crypto';
import type { Caller, FirmwareRefusalCode, FirmwareRelease, RefusedFirmware } from '../../src-preload/contract';
import { auditActor, type AuditActor, type AuditSink } from '../audit/record';
import { ConsoleError } from '../core/errors';
import type { Logger } from '../core/log';
import { FIRMWARE_REFUSAL_TEXT, type InstalledFirmware, type TrustRoot } from '../firmware';
import { judgeBundle, type Judgement } from './releases';
import type { ModuleStore, StoredRelease } from './store';

/** Largest bundle the console imports (the UI's limit is lower: 32 MiB in base64). */
export const MAX_IMPORT_BYTES = 256 * 1024 * 1024 + 1024 * 1024;

/** Who imports: a person (the UI's caller, or the CLI's actor) or the downlink. */
export type ImportSource =
  { source: 'file'; fileName: string; caller: Caller | null; actor?: AuditActor } | { source: 'downlink'; ref: string };

export interface LibraryOptions {
  store: ModuleStore;
  audit?: AuditSink | undefined;
  log: Logger;
  now(): number;
  root(): TrustRoot;
  /** Models of the modules this console manages. */
  models(): ReadonlySet<string>;
  /** What the modules of a model run now. */
  installed(model: string): InstalledFirmware[];
  changed(): void;
}

/** A refused import: FIRMWARE_REFUSED, with the refusal's code. */
export class ImportRefused extends ConsoleError {
  constructor(
    readonly refusal: FirmwareRefusalCode,
    message: string,
  ) {
    super('FIRMWARE_REFUSED', message);
  }
}

/** Words for a refusal code the firmware core does not have. */
function refusalText(code: string): string {
  return code === 'duplicate' ? 'The release is imported already.' : ((FIRMWARE_REFUSAL_TEXT as Record<string, string>)[code] ?? code);
}

/** The refusal of a bundle larger than the limit (`size` null: more than it, how much more unknown). */
function tooLarge(size: number | null, limit = MAX_IMPORT_BYTES, where = ''): { code: 'image_too_large'; message: string } {
  const has = size === null ? `more than ${limit} bytes` : `${size} bytes`;
  return { code: 'image_too_large', message: `The bundle has ${has}; at most ${limit} are imported${where}.` };
}

/** Who the audit record names for an import. */
function actorOf(from: ImportSource): Partial<AuditActor> {
  return from.source !== 'file' ? {} : from.caller ? auditActor(from.caller) : (from.actor ?? {});
}

export class FirmwareLibrary {
  private cached: StoredRelease[] = [];
  private version = '';

  constructor(private readonly o: LibraryOptions) {}

  /** The releases, re-read when the store changed (`plant-console firmware import` beside a running console). */
  private get releases(): StoredRelease[] {
    const v = this.o.store.releasesVersion();
    if (v !== this.version) {
      this.cached = this.o.store.releases();
      this.version = v;
    }
    return this.cached;
  }

  list(): FirmwareRelease[] {
    return this.releases.map((r) => r.info);
  }

  get(id: string): StoredRelease | undefined {
    return this.releases.find((r) => r.info.id === id);
  }

  refused(limit = 100): RefusedFirmware[] {
    return this.o.store.refused(limit);
  }

  /** True when a release this console holds has this image hash. */
  knownImage(hash: string): boolean {
    return this.releases.some((r) => r.info.imageHash === hash);
  }

  /** The release whose image has this hash. */
  byImage(hash: string): StoredRelease | undefined {
    return this.releases.find((r) => r.info.imageHash === hash);
  }

  /**
   * Judges and stores a bundle; returns the release, or throws FIRMWARE_REFUSED naming the
   * reason after the refusal was recorded and audited.
   */
  import(bytes: Uint8Array, from: ImportSource): FirmwareRelease {
    const now = this.o.now();
    const j: Judgement =
      bytes.byteLength > MAX_IMPORT_BYTES
        ? { ok: false, ...tooLarge(bytes.byteLength) }
        : judgeBundle(bytes, {
            root: this.o.root(),
            now,
            models: this.o.models(),
            installed: (m) => this.o.installed(m),
            known: this.releases.map((r) => ({
              id: r.info.id,
              version: r.info.version,
              models: r.info.models,
              imageHash: r.info.imageHash,
            })),
            maxBytes: MAX_IMPORT_BYTES,
          });
    if (!j.ok) throw this.refuse(j.code, j.message, from, now);
    const actor = actorOf(from);
    const by = from.source === 'file' ? (from.caller?.user ?? from.actor?.user ?? 'plant-console CLI') : 'downlink';
    const r = j.release;
    const info: FirmwareRelease = {
      id: r.id,
      models: r.manifest.models,
      version: r.manifest.version,
      securityCounter: r.manifest.securityCounter,
      size: r.manifest.image.size,
      imageHash: r.manifest.image.blake2b512,
      created: r.manifest.created,
      expires: r.manifest.expires,
      notes: r.manifest.notes,
      signers: r.signers,
      threshold: this.o.root().threshold,
      source: from.source,
      importedAt: now,
      importedBy: by,
    };
    const stored: StoredRelease = { info, manifest: r.manifestBytes, signatures: r.signatures };
    this.o.store.addRelease(stored, r.image);
    this.o.audit?.record({
      kind: 'firmware_imported',
      ...actor,
      at: now,
      detail: {
        release: info.id,
        version: info.version,
        models: info.models,
        securityCounter: info.securityCounter,
        size: info.size,
        imageHash: info.imageHash,
        signers: info.signers,
        source: info.source,
        ...(from.source === 'file' ? { fileName: from.fileName.slice(0, 255) } : { ref: from.ref }),
      },
    });
    this.o.log.log('info', `Firmware ${info.version} imported (${info.id})`, {
      models: info.models,
      signers: info.signers,
      source: info.source,
    });
    this.o.changed();
    return info;
  }

  /**
   * Refuses a bundle of `size` bytes (null: more than `limit`, the rest unread) that is too large
   * to be read at all: a file the CLI does not load into memory, an upload from a page beyond the
   * UI's limit. Recorded, audited and returned like every other refusal.
   */
  refuseTooLarge(size: number | null, from: ImportSource, limit = MAX_IMPORT_BYTES, where = ''): ImportRefused {
    const r = tooLarge(size, limit, where);
    return this.refuse(r.code, r.message, from, this.o.now());
  }

  /** Records and audits a refusal; returns the error to throw. */
  private refuse(code: FirmwareRefusalCode, message: string, from: ImportSource, now: number): ImportRefused {
    const entry: RefusedFirmware = {
      ref: from.source === 'downlink' ? from.ref : `file-${randomUUID().slice(0, 8)}`,
      at: now,
      source: from.source,
      fileName: from.source === 'file' ? from.fileName.slice(0, 255) : null,
      code,
      message,
    };
    // The audit log writes in a transaction of its own: after the store's, never inside it.
    this.o.store.addRefused(entry);
    this.o.audit?.record({
      kind: 'firmware_refused',
      ...actorOf(from),
      at: now,
      detail: { ref: entry.ref, source: entry.source, fileName: entry.fileName, code, message },
    });
    this.o.log.log('warn', `Firmware refused (${code}): ${message}`, { source: from.source, ref: entry.ref });
    this.o.changed();
    return new ImportRefused(code, `${refusalText(code)} ${message}`);
  }

  /** Image bytes [start, end) of a held release. */
  read(id: string, start: number, end: number): Iterable<Buffer> {
    return this.o.store.imageRange(id, start, end);
  }
}
