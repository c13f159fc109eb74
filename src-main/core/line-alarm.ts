/**
 * A noisy line is an alarm, not only a log line: while a machine's answers arrive spoiled (bad
 * CRC, cut or garbled frames: src-main/modbus/line-quality.ts) its data still comes through
 * retries, but the line is failing (a loose shield, a missing terminator, a drive next to the
 * cable) and a person should look before it gets worse. Raised and cleared from the poller's
 * Link; ISA-18.2 like every alarm (it stays until acknowledged, also after it cleared).
 */
import type { Link } from '../../src-preload/contract';
import type { ExternalAlarm } from '../alarms/rules';

/** The rule id of a machine's line-quality alarm (a `:` that no profile rule id can have). */
export const LINE_NOISE_RULE = 'line:noise';

/** What the line-quality alarms need of the alarm engine. */
export interface ExternalAlarmSink {
  raiseExternal(a: ExternalAlarm, at?: number): boolean;
  clearExternal(machineId: string, ruleId: string, at?: number): boolean;
}

/** Follows each machine's `link.noise.noisy` and raises or clears its line-quality alarm. */
export class LineQualityAlarms {
  private readonly noisy = new Set<string>();

  constructor(private readonly alarms: ExternalAlarmSink) {}

  /** Takes the link of a poll result. */
  update(machineId: string, link: Link): void {
    const noise = link.noise;
    const now = noise?.noisy === true;
    if (now === this.noisy.has(machineId)) return;
    if (noise && now) {
      this.noisy.add(machineId);
      this.alarms.raiseExternal({
        kind: 'line',
        machineId,
        ruleId: LINE_NOISE_RULE,
        priority: 'medium',
        message: `Noisy line ${link.line ?? ''}: ${noise.spoiled} of the last ${noise.answers} answers arrived spoiled (bad CRC, cut frames); check cabling, termination, shielding`,
      });
    } else {
      this.noisy.delete(machineId);
      this.alarms.clearExternal(machineId, LINE_NOISE_RULE);
    }
  }
}
