/**
 * Machine states in words, shared by the core (write refusals, recommendations) and the
 * renderer (setpoint panel). No zod here: the renderer imports this file directly, and zod
 * would bring an eval probe that the page's CSP refuses.
 */
import type { MachineState } from './values';

/** A machine state as a sentence says it: "it is in fault". */
export const MACHINE_STATE_WORDS: Readonly<Record<MachineState, string>> = {
  running: 'running',
  idle: 'idle',
  fault: 'in fault',
  offline: 'offline',
  unknown: 'in an unknown state',
};

/** "idle", "idle or in fault", "running, idle or in fault". */
export function machineStatesInWords(states: readonly MachineState[]): string {
  const words = states.map((s) => MACHINE_STATE_WORDS[s]);
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)!}`;
}
