/**
 * Words and numbers of the setpoint panel: limits, interlocks, the − / + increment, the
 * confirmation sentence and the outcome of a write, all in plain words with units.
 */
import type { CallerRole, MachineState, PlantInfo, PointMeta, WriteResult } from '../../../src-preload/contract';
// Straight from its file: the contract's index would bring zod (and its eval probe) into the page.
import { MACHINE_STATE_WORDS, machineStatesInWords } from '../../../src-preload/contract/state-words';
import { formatNumber, withUnit } from './format';

/**
 * Roles that may call points.write / points.revert, and writes.log. Kept here rather than read
 * from the contract's COMMANDS, whose schemas would pull zod into the renderer; a unit test
 * keeps both equal.
 */
export const WRITE_ROLES: readonly CallerRole[] = ['maintenance', 'admin'];
export const WRITE_LOG_ROLES: readonly CallerRole[] = ['operator', 'maintenance', 'admin', 'viewer'];

type Writable = NonNullable<PointMeta['writable']>;
type Value = number | boolean;

/** A limit or step without trailing zeros the profile did not ask for: "180", "0.5". */
function limitNumber(v: number, decimals: number): string {
  for (let d = 0; d < decimals; d++) {
    if (Math.abs(v * 10 ** d - Math.round(v * 10 ** d)) < 1e-9) return formatNumber(v, d);
  }
  return formatNumber(v, decimals);
}

/** A value with the point's decimals and unit, booleans as on/off: "214.0 °C". */
export function pointValueText(v: Value | null | undefined, p: Pick<PointMeta, 'decimals' | 'unit'>): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return withUnit(formatNumber(v, p.decimals), p.unit);
}

/** "180–240 °C, steps of at most 5 °C"; "on or off" for a coil. */
export function limitsText(p: Pick<PointMeta, 'type' | 'decimals' | 'unit' | 'writable'>): string {
  const w = p.writable;
  if (!w) return 'read-only';
  if (p.type === 'bool') return 'on or off';
  const u = p.unit ? ` ${p.unit}` : '';
  return `${limitNumber(w.min, p.decimals)}–${limitNumber(w.max, p.decimals)}${u}, steps of at most ${limitNumber(w.maxStep, p.decimals)}${u}`;
}

/** "only while idle", "only while idle or in fault"; null for no interlock. */
export function interlockText(states: readonly MachineState[] | null | undefined): string | null {
  if (!states || states.length === 0) return null;
  return `only while ${machineStatesInWords(states)}`;
}

/** Whether the interlock is met in `state` (no interlock: always). */
export function interlockMet(states: readonly MachineState[] | null | undefined, state: MachineState): boolean {
  return !states || states.length === 0 || states.includes(state);
}

/** The machine state in words: "running", "in fault". */
export function stateWords(state: MachineState): string {
  return MACHINE_STATE_WORDS[state];
}

/**
 * The − / + increment: a 1-2-5 number about a fifth of the largest step (so five presses make
 * the largest change), never finer than the point's decimals.
 */
export function stepIncrement(p: Pick<PointMeta, 'decimals'> & { writable: Writable | null }): number {
  const finest = 10 ** -p.decimals;
  const w = p.writable;
  if (!w) return finest;
  const target = w.maxStep / 5;
  const mag = 10 ** Math.floor(Math.log10(target));
  const nice = [5, 2, 1].map((m) => m * mag).find((c) => c <= target + 1e-12) ?? mag;
  return Math.max(finest, nice);
}

/** `value` moved one increment up or down, rounded to the point's decimals and kept inside its limits. */
export function nudge(value: number, direction: 1 | -1, p: Pick<PointMeta, 'decimals'> & { writable: Writable | null }): number {
  const inc = stepIncrement(p);
  const f = 10 ** p.decimals;
  let next = Math.round((value + direction * inc) * f) / f;
  if (p.writable) next = Math.min(p.writable.max, Math.max(p.writable.min, next));
  return next;
}

/** "Set Zone 1 setpoint from 212.0 °C to 214.0 °C?" */
export function confirmSentence(
  p: Pick<PointMeta, 'name' | 'decimals' | 'unit' | 'type'>,
  from: Value | null,
  to: Value,
  revert = false,
): string {
  const verb = p.type === 'bool' ? 'Switch' : 'Set';
  const target = `${pointValueText(to, p)}`;
  if (from === null) return `${verb} ${p.name} to ${target}?`;
  return revert
    ? `Undo: set ${p.name} from ${pointValueText(from, p)} back to ${target}?`
    : `${verb} ${p.name} from ${pointValueText(from, p)} to ${target}?`;
}

/** What the console will check, told before confirming: limits, step and interlock the value misses. */
export function previewProblems(p: PointMeta, from: Value | null, to: Value, state: MachineState): string[] {
  const out: string[] = [];
  const w = p.writable;
  if (!w || typeof to !== 'number') return out;
  if (to < w.min) out.push(`${pointValueText(to, p)} is below the minimum ${pointValueText(w.min, p)}`);
  if (to > w.max) out.push(`${pointValueText(to, p)} is above the maximum ${pointValueText(w.max, p)}`);
  if (typeof from === 'number' && Math.abs(to - from) > w.maxStep + 1e-9) {
    out.push(
      `a change of ${pointValueText(Math.abs(to - from), p)} is larger than the largest allowed step of ${pointValueText(w.maxStep, p)}`,
    );
  }
  const lock = interlockText(p.interlock);
  if (lock && !interlockMet(p.interlock, state)) out.push(`${lock}; the machine is ${stateWords(state)}`);
  return out;
}

export type OutcomeTone = 'ok' | 'warn';

/** A write's outcome as a person reads it: a tone (icon and colour) and one sentence. */
export function outcomeText(
  r: WriteResult,
  p: Pick<PointMeta, 'name' | 'decimals' | 'unit'> | undefined,
): { tone: OutcomeTone; text: string } {
  const fmt = { decimals: p?.decimals ?? 1, unit: p?.unit ?? r.unit };
  const name = p?.name ?? r.pointId;
  switch (r.outcome) {
    case 'written':
      return {
        tone: 'ok',
        text: `${r.revertOf ? 'Undone: ' : ''}${name} is now ${pointValueText(r.readback, fmt)} (read back from the device)`,
      };
    case 'readback-mismatch':
      return {
        tone: 'warn',
        text: `Written, but the device reports ${pointValueText(r.readback, fmt)} instead of ${pointValueText(r.requested, fmt)}`,
      };
    case 'refused':
      return { tone: 'warn', text: `Refused: ${r.reason ?? r.code ?? 'no reason given'}` };
    case 'failed':
      return { tone: 'warn', text: `Failed: ${r.reason ?? r.code ?? 'no reason given'}${r.code ? ` (${r.code})` : ''}` };
  }
}

/** The one word of an outcome for the log: WRITTEN, REFUSED, MISMATCH, FAILED. */
export function outcomeWord(r: Pick<WriteResult, 'outcome' | 'revertOf'>): string {
  const word = { written: 'WRITTEN', refused: 'REFUSED', 'readback-mismatch': 'MISMATCH', failed: 'FAILED' }[r.outcome];
  return r.revertOf && r.outcome === 'written' ? 'UNDONE' : word;
}

/** Why the panel is read-only, in words; null when this caller may change setpoints now. */
export function readOnlyReason(info: PlantInfo | null, live: boolean): string | null {
  if (!info) return 'Loading the plant settings…';
  if (info.writesEnabled !== true) return 'Setpoint changes are turned off for this plant (writes.enabled in the configuration).';
  if (info.caller.role === 'viewer') return 'Viewing without sign-in: a maintenance or admin account signs in to change setpoints.';
  if (!WRITE_ROLES.includes(info.caller.role)) {
    return `You are signed in as ${info.caller.role}: you can see setpoints but not change them (maintenance or admin can).`;
  }
  if (!live) return 'Not connected to the console core: setpoints cannot be changed now.';
  return null;
}
