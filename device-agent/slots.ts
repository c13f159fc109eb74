/**
 * A/B slots, as Mender, RAUC and MCUboot keep them: a release is written to the slot that is
 * not running, verified there again against the module's own pinned root (whatever the console
 * said), and only then marked as on trial. The next boot counts the trial (before anything else
 * starts), runs the image, and the runtime commits it after a passed health check or falls back
 * to the committed slot. A trial that keeps restarting without committing is given up after
 * `maxTrialBoots`.
 *
 * Every step is ordered so that power loss (SIGKILL) at any instant leaves a state that boots a
 * good image: the slot being overwritten is first taken out of the state, files are written to
 * a fresh directory, fsynced and renamed into place, and state.json is replaced atomically last.
 * Tests stop the process at named pause points to prove it.
 */
import { mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConsoleError } from '../src-main/core/errors';
import {
  createImageVerifier,
  FIRMWARE_MAX_SIGNATURES,
  verifyManifest,
  verifyRootRotation,
  type FirmwareManifest,
  type FirmwareRefusal,
} from '../src-main/firmware';
import { blake2b } from '../src-main/protocol/sodium';
import { copyDurable, readChunks, syncPath, writeDurable } from './durable';
import { encodeFirmwareImage, factoryImage, FACTORY_VERSION } from './firmware-image';
import {
  MAX_ROLLBACKS,
  otherSlot,
  pinnedRoot,
  readState,
  statePaths,
  withDeclined,
  writeState,
  type ModuleState,
  type RollbackEvent,
  type RollbackReason,
  type SlotName,
  type SlotRecord,
} from './module-state';

/** Where a test may stop the process (`--test-pause-at`) to simulate power loss. */
export const PAUSE_POINTS = ['install-cleared', 'install-written', 'install-pending', 'boot-counted', 'trial-serving'] as const;
export type PausePoint = (typeof PAUSE_POINTS)[number];
export type Pause = (point: PausePoint) => Promise<void>;
const noPause: Pause = () => Promise.resolve();

/** The simulated module's slot size: a manifest announcing a bigger image is refused before any byte moves. */
export const SLOT_MAX_IMAGE_BYTES = 16 * 1024 * 1024;
const SignaturesSchema = z
  .array(
    z
      .string()
      .min(1)
      .max(16 * 1024),
  )
  .min(1)
  .max(FIRMWARE_MAX_SIGNATURES);

/** A release to install: the manifest's bytes, its signatures, and the image (bytes or a file). */
export interface Release {
  manifest: Uint8Array;
  signatures: string[];
  image: Uint8Array | { path: string };
}

export type Refused = { ok: false; code: FirmwareRefusal; message: string };
export type InstallResult = { ok: true; slot: SlotName; manifest: FirmwareManifest } | Refused;

/** What the module compares a release with: the newest committed firmware. */
export function installedOf(state: ModuleState): { version: string; securityCounter: number; blake2b512?: string } {
  return { ...state.committed };
}

/** Writes the release into `slot-X.new/`, then renames it over `slot-X/`. */
function writeSlot(dir: string, slot: SlotName, release: Release): void {
  const paths = statePaths(dir);
  const tmp = paths.slotTmp(slot);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { mode: 0o700 });
  writeDurable(join(tmp, 'manifest.json'), release.manifest);
  writeDurable(join(tmp, 'signatures.json'), JSON.stringify(release.signatures));
  if (release.image instanceof Uint8Array) writeDurable(join(tmp, 'image.bin'), release.image);
  else copyDurable(release.image.path, join(tmp, 'image.bin'));
  syncPath(tmp);
  rmSync(paths.slot(slot), { recursive: true, force: true });
  renameSync(tmp, paths.slot(slot));
  syncPath(dir);
}

/** Verifies what a slot holds, as written: manifest and signatures against the pinned root, then the image. */
export function verifySlot(
  dir: string,
  slot: SlotName,
  state: ModuleState,
  now: number,
  maxImageBytes = SLOT_MAX_IMAGE_BYTES,
): { ok: true; manifest: FirmwareManifest; record: SlotRecord } | Refused {
  const base = statePaths(dir).slot(slot);
  let manifest: Buffer;
  let signatures: string[];
  try {
    manifest = readFileSync(join(base, 'manifest.json'));
    signatures = SignaturesSchema.parse(JSON.parse(readFileSync(join(base, 'signatures.json'), 'utf8')));
  } catch (err) {
    return { ok: false, code: 'malformed', message: `Slot ${slot} cannot be read back: ${(err as Error).message}` };
  }
  const v = verifyManifest({ manifest, signatures }, pinnedRoot(state), {
    now,
    model: state.model,
    installed: installedOf(state),
    maxImageBytes,
  });
  if (!v.ok) return v;
  const check = createImageVerifier(v.manifest);
  try {
    readChunks(join(base, 'image.bin'), (chunk) => check.update(chunk));
  } catch (err) {
    if (err instanceof ConsoleError && err.code === 'FIRMWARE_IMAGE_TOO_LARGE')
      return { ok: false, code: 'image_too_large', message: err.message };
    return { ok: false, code: 'malformed', message: `Slot ${slot}'s image cannot be read: ${(err as Error).message}` };
  }
  const done = check.finish();
  if (!done.ok) return done;
  const m = v.manifest;
  return {
    ok: true,
    manifest: m,
    record: {
      version: m.version,
      securityCounter: m.securityCounter,
      size: m.image.size,
      blake2b512: m.image.blake2b512,
      installedAt: now,
    },
  };
}

/**
 * Installs a release into the inactive slot and marks it for trial at the next boot. The
 * manifest is checked first (nothing is written for a release that cannot pass), then written,
 * read back and verified in the slot. The caller holds the state directory's lock.
 */
export async function installRelease(
  dir: string,
  release: Release,
  opts: { now: () => number; pause?: Pause; maxImageBytes?: number },
): Promise<InstallResult> {
  const pause = opts.pause ?? noPause;
  const maxImageBytes = opts.maxImageBytes ?? SLOT_MAX_IMAGE_BYTES;
  let state = readState(dir);
  let signatures: string[];
  try {
    signatures = SignaturesSchema.parse(release.signatures);
  } catch {
    return { ok: false, code: 'malformed', message: `A release carries 1–${FIRMWARE_MAX_SIGNATURES} signatures of at most 16 KiB each.` };
  }
  const pre = verifyManifest({ manifest: release.manifest, signatures }, pinnedRoot(state), {
    now: opts.now(),
    model: state.model,
    installed: installedOf(state),
    maxImageBytes,
  });
  if (!pre.ok) return pre;

  const target = otherSlot(state.active);
  if (state.pending !== null || state.slots[target] !== null) {
    state = { ...state, pending: null, trialBoots: 0, slots: { ...state.slots, [target]: null } };
    writeState(dir, state);
  }
  await pause('install-cleared');
  writeSlot(dir, target, { ...release, signatures });
  await pause('install-written');
  const verified = verifySlot(dir, target, state, opts.now(), maxImageBytes);
  if (!verified.ok) {
    rmSync(statePaths(dir).slot(target), { recursive: true, force: true });
    return verified;
  }
  // Installing a release on purpose (an operator's bundle) forgets that it was rolled back once.
  const current = readState(dir);
  writeState(dir, {
    ...current,
    pending: target,
    trialBoots: 0,
    slots: { ...state.slots, [target]: verified.record },
    declined: current.declined.filter((d) => d.kind !== 'rolled-back' || d.blake2b512 !== verified.record.blake2b512),
  });
  await pause('install-pending');
  return { ok: true, slot: target, manifest: verified.manifest };
}

/** What to run at this boot. */
export interface BootPlan {
  /** null: the factory image built into the agent. */
  slot: SlotName | null;
  version: string;
  image: Uint8Array;
  /** BLAKE2b-512 of the image (hex). */
  blake2b512: string;
  /** True when this boot is a trial that must pass the health check to be committed. */
  trial: boolean;
  trialBoot: number;
  boot: number;
}

function factoryPlan(model: string, boot: number): BootPlan {
  const image = encodeFirmwareImage(factoryImage(model));
  return { slot: null, version: FACTORY_VERSION, image, blake2b512: blake2b(image, 64).toString('hex'), trial: false, trialBoot: 0, boot };
}

/** The slot's image when it still matches what was verified at install. */
function readSlotImage(
  dir: string,
  slot: SlotName,
  record: SlotRecord | null,
): { ok: true; image: Buffer } | { ok: false; message: string } {
  if (!record) return { ok: false, message: `slot ${slot} holds no verified release` };
  let image: Buffer;
  try {
    image = readFileSync(join(statePaths(dir).slot(slot), 'image.bin'));
  } catch (err) {
    return { ok: false, message: `slot ${slot}'s image cannot be read: ${(err as Error).message}` };
  }
  if (image.byteLength !== record.size || blake2b(image, 64).toString('hex') !== record.blake2b512) {
    return { ok: false, message: `slot ${slot}'s image no longer matches the release verified at install (${record.version})` };
  }
  return { ok: true, image };
}

function running(state: ModuleState, slot: SlotName | null): { slot: SlotName | null; version: string } {
  return { slot, version: slot ? (state.slots[slot]?.version ?? '?') : FACTORY_VERSION };
}

/** The state after leaving `from` for the committed slot, and the event recorded. */
function withRollback(
  state: ModuleState,
  from: SlotName | null,
  reason: RollbackReason,
  detail: string,
  now: number,
): { state: ModuleState; event: RollbackEvent } {
  const leavingActive = from !== null && from === state.active && state.pending !== from;
  const to = leavingActive ? null : state.active;
  const event: RollbackEvent = {
    at: now,
    from: running(state, from),
    to: running(state, to),
    reason,
    detail: detail.slice(0, 500),
    boot: state.boots,
  };
  let next: ModuleState = {
    ...state,
    active: leavingActive ? null : state.active,
    pending: null,
    trialBoots: 0,
    rollbacks: [...state.rollbacks, event].slice(-MAX_ROLLBACKS),
  };
  // The release failed here: a console offering it again must not bring it back. A damaged slot
  // says nothing about the release (a fresh copy may well run).
  const left = from ? state.slots[from] : null;
  if (left && reason !== 'slot_damaged')
    next = withDeclined(next, { kind: 'rolled-back', at: now, version: left.version, blake2b512: left.blake2b512, reason });
  return { state: next, event };
}

/**
 * Decides what this boot runs, persisting the boot (and the trial's boot count) before anything
 * starts. A trial past `maxTrialBoots`, or a slot whose image changed on disk, is left for the
 * committed slot (or the factory image) and the rollback recorded.
 */
export async function planBoot(
  dir: string,
  opts: { now: () => number; maxTrialBoots: number; pause?: Pause },
): Promise<{ plan: BootPlan; state: ModuleState; events: RollbackEvent[] }> {
  let state = readState(dir);
  state = { ...state, boots: state.boots + 1, trialBoots: state.pending ? state.trialBoots + 1 : 0 };
  writeState(dir, state);
  await (opts.pause ?? noPause)('boot-counted');
  const events: RollbackEvent[] = [];
  const leave = (from: SlotName, reason: RollbackReason, detail: string): void => {
    const r = withRollback(state, from, reason, detail, opts.now());
    state = r.state;
    events.push(r.event);
    writeState(dir, state);
  };
  if (state.pending) {
    const slot = state.pending;
    if (state.trialBoots > opts.maxTrialBoots) {
      leave(
        slot,
        'boot_limit',
        `the trial of ${running(state, slot).version} booted ${state.trialBoots - 1} times without passing its health check`,
      );
    } else {
      const img = readSlotImage(dir, slot, state.slots[slot]);
      if (img.ok) {
        const rec = state.slots[slot]!;
        const plan = {
          slot,
          version: rec.version,
          image: img.image,
          blake2b512: rec.blake2b512,
          trial: true,
          trialBoot: state.trialBoots,
          boot: state.boots,
        };
        return { plan, state, events };
      }
      leave(slot, 'slot_damaged', img.message);
    }
  }
  if (state.active) {
    const img = readSlotImage(dir, state.active, state.slots[state.active]);
    const rec = state.slots[state.active];
    if (img.ok && rec) {
      const plan = {
        slot: state.active,
        version: rec.version,
        image: img.image,
        blake2b512: rec.blake2b512,
        trial: false,
        trialBoot: 0,
        boot: state.boots,
      };
      return { plan, state, events };
    }
    leave(state.active, 'slot_damaged', img.ok ? 'no record' : img.message);
  }
  return { plan: factoryPlan(state.model, state.boots), state, events };
}

/** Commits the slot on trial after its health check passed: it becomes the slot every later boot runs. */
export function commitTrial(dir: string, now: number): ModuleState {
  const state = readState(dir);
  const slot = state.pending;
  const rec = slot ? state.slots[slot] : null;
  if (!slot || !rec) throw new ConsoleError('INTERNAL', 'No slot is on trial.');
  const next: ModuleState = {
    ...state,
    active: slot,
    pending: null,
    trialBoots: 0,
    committed: {
      version: rec.version,
      securityCounter: Math.max(rec.securityCounter, state.committed.securityCounter),
      blake2b512: rec.blake2b512,
    },
    history: [...state.history, { at: now, slot, version: rec.version }].slice(-MAX_ROLLBACKS),
  };
  writeState(dir, next);
  return next;
}

/** Gives up the trial (failed health check or bad image) or a broken committed slot, and records why. */
export function rollBack(dir: string, from: SlotName | null, reason: RollbackReason, detail: string, now: number): RollbackEvent | null {
  const state = readState(dir);
  if (from === null) return null;
  const r = withRollback(state, from, reason, detail, now);
  writeState(dir, r.state);
  return r.event;
}

/** Replaces the pinned root with a newer one signed by k of the pinned keys (and k of its own). */
export function rotateRoot(dir: string, next: { root: Uint8Array; signatures: string[] }): { ok: true; version: number } | Refused {
  const state = readState(dir);
  const r = verifyRootRotation(pinnedRoot(state), next);
  if (!r.ok) return r;
  writeState(dir, { ...state, root: Buffer.from(next.root).toString('base64') });
  return { ok: true, version: r.root.version };
}
