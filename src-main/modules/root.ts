/**
 * The console's pinned firmware root of trust. At the first start the root named by the config
 * (`modules.root`, from provisioning) is copied into the encrypted store; from then on the store
 * is what counts. A root file that differs later is accepted only as a rotation verified by
 * verifyRootRotation (docs/firmware.md §5.3): signed by k keys of the pinned root and k of its
 * own, with the signature files beside it (`root.json.1.minisig`, `root.json.2.minisig`, …).
 * Anything else is refused with a clear error and audited, and the pinned root stays. An older
 * root file (the provisioning file after a rotation) is ignored.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { AuditSink } from '../audit/record';
import { ConsoleError } from '../core/errors';
import type { Logger } from '../core/log';
import { parseRoot, verifyRootRotation, type TrustRoot } from '../firmware';
import type { ModuleStore } from './store';

/** The pinned root and what modules are told of it. */
export interface PinnedRoot {
  root: TrustRoot;
  /** The root's bytes and the signatures of the rotation that pinned it; null for the provisioned root. */
  rotation: { root: Buffer; signatures: string[] } | null;
}

/** The signature files beside a root file: FILE.1.minisig, FILE.2.minisig, … (up to 64). */
export function rotationSignatures(file: string): string[] {
  const out: string[] = [];
  for (let i = 1; i <= 64 && existsSync(`${file}.${i}.minisig`); i++) out.push(readFileSync(`${file}.${i}.minisig`, 'utf8'));
  return out;
}

const describe = (r: TrustRoot): Record<string, string | number | string[]> => ({
  version: r.version,
  threshold: r.threshold,
  keys: r.keys.map((k) => k.name),
});

/** Pins or checks the root named by the config; returns what is pinned now. */
export function pinRoot(o: { store: ModuleStore; file: string; audit?: AuditSink | undefined; log: Logger; now: number }): PinnedRoot {
  const stored = o.store.root();
  let bytes: Buffer | null = null;
  try {
    bytes = readFileSync(o.file);
  } catch (err) {
    if (!stored)
      throw new ConsoleError(
        'CONFIG_UNREADABLE',
        `modules.root: cannot read ${o.file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        { cause: err },
      );
    o.log.log('warn', `modules.root ${o.file} cannot be read; the firmware root pinned in the store stays in use`);
  }
  if (!stored) {
    let root: TrustRoot;
    try {
      root = parseRoot(bytes!);
    } catch (err) {
      throw new ConsoleError('CONFIG_INVALID', `modules.root: ${o.file} is not a firmware root: ${(err as Error).message}`, { cause: err });
    }
    o.store.pinRoot({ root: bytes!, signatures: [], version: root.version, pinnedAt: o.now });
    o.audit?.record({ kind: 'firmware_root', at: o.now, detail: { ...describe(root), source: 'provisioning', file: o.file } });
    o.log.log('info', `Pinned firmware root v${root.version} (${root.threshold} of ${root.keys.length} keys) from ${o.file}`);
    return { root, rotation: null };
  }
  const pinned = parseRoot(stored.root);
  const current: PinnedRoot = {
    root: pinned,
    rotation: stored.signatures.length ? { root: stored.root, signatures: stored.signatures } : null,
  };
  if (!bytes || bytes.equals(stored.root)) return current;
  const refuse = (code: string, message: string): PinnedRoot => {
    o.log.log(
      'error',
      `The firmware root ${o.file} differs from the pinned root v${pinned.version} and was refused: ${message} The pinned root stays in use.`,
    );
    o.audit?.record({
      kind: 'firmware_refused',
      at: o.now,
      detail: { what: 'root', file: o.file, code, message, pinnedVersion: pinned.version },
    });
    return current;
  };
  let given: TrustRoot;
  try {
    given = parseRoot(bytes);
  } catch (err) {
    return refuse('malformed', (err as Error).message);
  }
  if (given.version < pinned.version) {
    o.log.log('info', `modules.root ${o.file} holds root v${given.version}; v${pinned.version} is pinned (rotated since): kept`);
    return current;
  }
  const signatures = rotationSignatures(o.file);
  if (signatures.length === 0)
    return refuse(
      'unsigned_root',
      `A root changes only through a rotation signed by the pinned keys, and no ${o.file}.1.minisig is beside it.`,
    );
  const v = verifyRootRotation(pinned, { root: bytes, signatures });
  if (!v.ok) return refuse(v.code, v.message);
  o.store.pinRoot({ root: bytes, signatures, version: v.root.version, pinnedAt: o.now });
  o.audit?.record({
    kind: 'firmware_root',
    at: o.now,
    detail: { ...describe(v.root), source: 'rotation', file: o.file, from: pinned.version },
  });
  o.log.log('info', `Firmware root rotated from v${pinned.version} to v${v.root.version}`);
  return { root: v.root, rotation: { root: bytes, signatures } };
}
