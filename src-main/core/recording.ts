/**
 * Recording by exception, as plant historians do it: a sample is recorded when it moves more than
 * the point's deadband away from the last recorded value, when the maximum interval has passed
 * since that one, and always when the quality changes (a gap begins or ends). What is not
 * recorded is held: the last held sample is recorded just before the next change, so a trend
 * shows a step where the value held, not a ramp from the old value to the new one; and queries
 * show the held sample as the series' latest point, so a flat trend reaches the present.
 *
 * Without a rule every sample is recorded (the behaviour before recording by exception).
 */

/** A point's recording rule: deadband in the point's engineering unit, maximum interval in ms. */
export interface RecordingRule {
  deadband: number;
  maxIntervalMs: number;
}

/** Where recorded samples go (the store's own append). */
export type RecordSink = (t: number, v: number | null) => void;

/** One series' filter: offer every polled sample; it calls `record` for those that are kept. */
export class ExceptionFilter {
  private recordedT = -Infinity;
  /** The last recorded value; undefined before the first. */
  private recordedV: number | null | undefined = undefined;
  private heldT = NaN;
  private heldV = 0;
  private holding = false;

  constructor(
    private rule: RecordingRule,
    private readonly record: RecordSink,
  ) {}

  /** Replaces the rule (a new configuration); what is held stays held. */
  setRule(rule: RecordingRule): void {
    this.rule = rule;
  }

  /** Offers one polled sample (null: not good, a gap). */
  offer(t: number, v: number | null): void {
    const last = this.recordedV;
    if (last === undefined || (last === null) !== (v === null)) {
      // The first sample, and every change of quality: recorded, after the value held until then.
      this.keep(t, v, true);
      return;
    }
    if (v === null) return;
    if (Math.abs(v - (last as number)) > this.rule.deadband) {
      this.keep(t, v, true);
      return;
    }
    if (t - this.recordedT >= this.rule.maxIntervalMs) {
      // Within the deadband: the held sample adds nothing to the trend, the new one suffices.
      this.keep(t, v, false);
      return;
    }
    this.heldT = t;
    this.heldV = v;
    this.holding = true;
  }

  private keep(t: number, v: number | null, stepFirst: boolean): void {
    if (stepFirst && this.holding && this.heldT > this.recordedT && this.heldT < t) this.record(this.heldT, this.heldV);
    this.holding = false;
    this.record(t, v);
    this.recordedT = t;
    this.recordedV = v;
  }

  /** The latest sample polled but not recorded (newer than every recorded one), or null. */
  held(): { t: number; v: number } | null {
    return this.holding && this.heldT > this.recordedT ? { t: this.heldT, v: this.heldV } : null;
  }
}

/** The rule's deadband from a profile point's `record` settings (absolute, or percent of its span). */
export function recordingRule(record: {
  deadband?: number;
  deadbandPercent?: number;
  span?: { low: number; high: number };
  maxIntervalS: number;
}): RecordingRule {
  const deadband =
    record.deadbandPercent !== undefined && record.span
      ? (record.deadbandPercent / 100) * (record.span.high - record.span.low)
      : (record.deadband ?? 0);
  return { deadband, maxIntervalMs: record.maxIntervalS * 1000 };
}
