/**
 * The module's persistent state (`<state dir>/state.json`): which slot is committed, which is on
 * trial and how often it booted, what each slot holds, the committed version and security
 * counter floor, the pinned root of trust and the rollback history.
 *
 * Power can fail at any instant, so the file is only ever replaced whole: a temporary file is
 * written and fsynced, renamed over the old one, and the directory fsynced (writeFileAtomic).
 * A reader sees the old state or the new one, never a mix. One process at a time owns a state
 * directory (a lock file naming its pid; a lock left by a killed process is taken over).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConsoleError } from '../src-main/core/errors';
import { writeFileAtomic } from '../src-main/store/files';
import { parseRoot, type TrustRoot } from '../src-main/firmware';
import { FACTORY_VERSION } from './firmware-image';

export const MODULE_STATE_KIND = 'plant-console/module-state/v1';
export type SlotName = 'a' | 'b';
/** Rollback events kept in the state (older ones drop off; the console keeps the full history). */
export const MAX_ROLLBACKS = 20;

const hex128 = z.string().regex(/^[0-9a-f]{128}$/);
const time = z.number().int().min(0);

const SlotRecordSchema = z
  .object({
    version: z.string().min(1).max(32),
    securityCounter: time,
    size: z.number().int().min(1),
    blake2b512: hex128,
    installedAt: time,
  })
  .strict();
export type SlotRecord = z.infer<typeof SlotRecordSchema>;

const RunningSchema = z.object({ slot: z.enum(['a', 'b']).nullable(), version: z.string().min(1).max(32) }).strict();

/** Why a module left a slot on its own. */
export const ROLLBACK_REASONS = ['self_test_failed', 'health_timeout', 'boot_limit', 'slot_damaged', 'bad_image'] as const;
export type RollbackReason = (typeof ROLLBACK_REASONS)[number];

const RollbackSchema = z
  .object({
    at: time,
    from: RunningSchema,
    to: RunningSchema,
    reason: z.enum(ROLLBACK_REASONS),
    detail: z.string().max(500),
    /** The boot number (state.boots) it happened in. */
    boot: time,
  })
  .strict();
export type RollbackEvent = z.infer<typeof RollbackSchema>;

/** Releases remembered as declined (older ones drop off). */
export const MAX_DECLINED = 50;

/**
 * A release this module will not install again from its console: one it rolled back from (known
 * by its image, whatever update id offers it next), or an update it refused for good (known by
 * the update id the console offered). Kept across restarts, so a console offering it again, or
 * a restart in the middle of a rollout, never installs it twice. A newer release is another
 * image; `device-agent install` by an operator installs it anyway and forgets the entry.
 */
const DeclinedSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('rolled-back'),
      at: time,
      version: z.string().min(1).max(32),
      blake2b512: hex128,
      reason: z.enum(ROLLBACK_REASONS),
    })
    .strict(),
  z
    .object({
      kind: z.literal('refused'),
      at: time,
      update: z.string().min(1).max(200),
      version: z.string().max(32).nullable(),
      code: z.string().max(64),
    })
    .strict(),
]);
export type Declined = z.infer<typeof DeclinedSchema>;

export const ModuleStateSchema = z
  .object({
    kind: z.literal(MODULE_STATE_KIND),
    model: z.string().min(1).max(64),
    /** The committed slot; null: the factory image built into the agent. */
    active: z.enum(['a', 'b']).nullable(),
    /** The slot on trial (installed, not yet committed), or null. */
    pending: z.enum(['a', 'b']).nullable(),
    /** Boots of the trial slot so far (counted before anything else starts). */
    trialBoots: z.number().int().min(0),
    /** Every boot of the module; heartbeats carry it so a console can order them across restarts. */
    boots: z.number().int().min(0),
    slots: z.object({ a: SlotRecordSchema.nullable(), b: SlotRecordSchema.nullable() }).strict(),
    /** The newest committed firmware: installs are checked against it and its security counter. */
    committed: z.object({ version: z.string().min(1).max(32), securityCounter: time, blake2b512: hex128.optional() }).strict(),
    history: z.array(z.object({ at: time, slot: z.enum(['a', 'b']), version: z.string() }).strict()).max(MAX_ROLLBACKS),
    /** The pinned root of trust: its canonical bytes, base64. */
    root: z.string().min(1).max(200_000),
    rollbacks: z.array(RollbackSchema).max(MAX_ROLLBACKS),
    /** Releases not to install again from the console (absent in states written before it existed). */
    declined: z.array(DeclinedSchema).max(MAX_DECLINED).default([]),
  })
  .strict();
export type ModuleState = z.infer<typeof ModuleStateSchema>;

/** File locations inside a state directory. */
export function statePaths(dir: string) {
  return {
    state: join(dir, 'state.json'),
    lock: join(dir, 'lock'),
    slot: (s: SlotName) => join(dir, `slot-${s}`),
    slotTmp: (s: SlotName) => join(dir, `slot-${s}.new`),
    downloads: join(dir, 'download'),
    identity: join(dir, 'identity.json'),
  };
}

/** The other slot. */
export function otherSlot(s: SlotName | null): SlotName {
  return s === 'a' ? 'b' : 'a';
}

/** True when the directory holds a module state. */
export function hasState(dir: string): boolean {
  return existsSync(statePaths(dir).state);
}

/** Reads and checks state.json; CONFIG_INVALID when it is missing or damaged. */
export function readState(dir: string): ModuleState {
  const path = statePaths(dir).state;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConsoleError('CONFIG_INVALID', `Cannot read the module state ${path}: ${(err as Error).message}`, { cause: err });
  }
  const r = ModuleStateSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ConsoleError(
      'CONFIG_INVALID',
      `The module state ${path} is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  return r.data;
}

/** Replaces state.json atomically and durably. */
export function writeState(dir: string, state: ModuleState): void {
  writeFileAtomic(statePaths(dir).state, JSON.stringify(ModuleStateSchema.parse(state), null, 1) + '\n', { noClobber: false });
}

/** The state with `entry` remembered (replacing an entry for the same image or update id). */
export function withDeclined(state: ModuleState, entry: Declined): ModuleState {
  const same = (d: Declined): boolean =>
    d.kind === entry.kind &&
    (d.kind === 'rolled-back' ? d.blake2b512 === (entry as typeof d).blake2b512 : d.update === (entry as typeof d).update);
  return { ...state, declined: [...state.declined.filter((d) => !same(d)), entry].slice(-MAX_DECLINED) };
}

/** The rollback remembered for an image, if the module rolled back from it. */
export function rolledBackFrom(state: ModuleState, blake2b512: string): Extract<Declined, { kind: 'rolled-back' }> | undefined {
  return state.declined.find(
    (d): d is Extract<Declined, { kind: 'rolled-back' }> => d.kind === 'rolled-back' && d.blake2b512 === blake2b512,
  );
}

/** The pinned root of a state. */
export function pinnedRoot(state: ModuleState): TrustRoot {
  return parseRoot(Buffer.from(state.root, 'base64'));
}

/**
 * Opens a state directory for a module of `model`. A new directory pins `rootBytes` (the root
 * put in at manufacture); an existing one keeps its pinned root: a different root of the same or
 * a newer version is refused (a root changes only through a signed rotation), an older one (the
 * manufacture file after a rotation) is ignored. Returns the state and what happened.
 */
export function openState(
  dir: string,
  model: string,
  rootBytes: Uint8Array | null,
): { state: ModuleState; created: boolean; note?: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const given = rootBytes ? parseRoot(rootBytes) : null;
  if (!hasState(dir)) {
    if (!rootBytes || !given) {
      throw new ConsoleError('BAD_REQUEST', `${dir} holds no module state yet: give the root of trust to pin with --root FILE`);
    }
    const state: ModuleState = {
      kind: MODULE_STATE_KIND,
      model,
      active: null,
      pending: null,
      trialBoots: 0,
      boots: 0,
      slots: { a: null, b: null },
      committed: { version: FACTORY_VERSION, securityCounter: 0 },
      history: [],
      root: Buffer.from(rootBytes).toString('base64'),
      rollbacks: [],
      declined: [],
    };
    writeState(dir, state);
    return { state, created: true };
  }
  const state = readState(dir);
  if (state.model !== model) {
    throw new ConsoleError('BAD_REQUEST', `${dir} belongs to a module of model ${state.model}, not ${model}`);
  }
  if (!rootBytes || !given) return { state, created: false };
  const pinned = pinnedRoot(state);
  if (Buffer.from(rootBytes).equals(Buffer.from(state.root, 'base64'))) return { state, created: false };
  if (given.version < pinned.version) {
    return {
      state,
      created: false,
      note: `the pinned root v${pinned.version} is newer than --root v${given.version}: keeping v${pinned.version}`,
    };
  }
  throw new ConsoleError(
    'BAD_REQUEST',
    `${dir} pins root v${pinned.version}; --root (v${given.version}) differs: a root changes only through a signed root rotation`,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the state directory's lock for this process; UNAVAILABLE while another live process
 * holds it. A lock whose process is gone (killed, power loss) is taken over. Returns the release.
 */
const heldHere = new Set<string>();

export function lockState(dir: string): () => void {
  const path = statePaths(dir).lock;
  if (heldHere.has(path)) throw new ConsoleError('UNAVAILABLE', `This process uses the state directory ${dir} already`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldHere.add(path);
      return () => {
        heldHere.delete(path);
        try {
          if (readFileSync(path, 'utf8') === String(process.pid)) rmSync(path, { force: true });
        } catch {
          // Gone already.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new ConsoleError('UNAVAILABLE', `Another device-agent (pid ${pid}) uses the state directory ${dir}`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new ConsoleError('UNAVAILABLE', `Cannot lock the state directory ${dir}`);
}
