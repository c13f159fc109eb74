/**
 * Telling a noisy line from a dead unit. A unit whose answer arrives spoiled (bad CRC, a frame
 * cut short or garbled: noise, a collision, a bad termination) is there: it is retried, its
 * errors are counted, and the line's quality is watched; only silence (no answer at all, or a
 * gateway saying the unit did not answer) makes it offline and, repeated, demoted. Demoting a
 * unit because the line is noisy would take its data away for a demotion interval while it is
 * answering.
 */
import type { Link } from '../../src-preload/contract';

/** Errors of an answer that arrived but could not be believed. */
export const NOISE_ERRORS: ReadonlySet<string> = new Set(['MODBUS_CRC', 'MODBUS_MALFORMED']);

/** Errors that say the unit did not answer: what counts towards demotion. */
export const SILENCE_ERRORS: ReadonlySet<string> = new Set(['MODBUS_TIMEOUT', 'MODBUS_GATEWAY']);

/** Extra attempts a read gets, beyond the unit's retries, while answers keep arriving spoiled. */
export const NOISE_RETRIES = 2;

/** The unit's last this-many answers are watched. */
const WINDOW = 100;
/** Spoiled answers in the window that raise the warning (3 %: a sound RS-485 line has next to none). */
const RAISE_AT = 3;

export type NoiseChange = 'raised' | 'cleared' | null;

/** Spoiled answers among a unit's last WINDOW answers; noisy from RAISE_AT until the window is clean again. */
export class NoiseMeter {
  private readonly ring = new Uint8Array(WINDOW);
  private next = 0;
  private filled = 0;
  private spoiled = 0;
  private noisy = false;

  /** Books one answer (spoiled or not); says when the warning is raised or cleared. */
  record(spoiled: boolean): NoiseChange {
    if (this.filled === WINDOW) this.spoiled -= this.ring[this.next]!;
    else this.filled++;
    this.ring[this.next] = spoiled ? 1 : 0;
    this.spoiled += spoiled ? 1 : 0;
    this.next = (this.next + 1) % WINDOW;
    if (!this.noisy && this.spoiled >= RAISE_AT) {
      this.noisy = true;
      return 'raised';
    }
    // Cleared only once a whole window has passed clean: a flapping warning would be ignored.
    if (this.noisy && this.spoiled === 0) {
      this.noisy = false;
      return 'cleared';
    }
    return null;
  }

  /** For the Link: spoiled of the last answers, and whether the warning stands. */
  snapshot(): NonNullable<Link['noise']> {
    return { spoiled: this.spoiled, answers: this.filled, noisy: this.noisy };
  }
}

/** The warning in words, for the log and the alarm. */
export function noiseMessage(name: string, line: string, n: NonNullable<Link['noise']>): string {
  return `Noisy line ${line}: ${n.spoiled} of the last ${n.answers} answers from ${name} arrived spoiled (bad CRC, cut or garbled frames); data still comes through retries. Check cabling, termination and shielding.`;
}
