/**
 * Fixed-capacity buffer of (time, value) samples kept outside React state, so that a flood of
 * live samples costs one array write each and never a render.
 */
export class RingBuffer {
  private readonly ts: Float64Array;
  private readonly vs: Float64Array;
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.ts = new Float64Array(capacity);
    this.vs = new Float64Array(capacity);
  }

  /** Number of samples held. */
  get size(): number {
    return this.count;
  }

  /** Appends a sample, overwriting the oldest when full; NaN marks a gap (no good value). */
  push(t: number, v: number): void {
    const idx = (this.start + this.count) % this.capacity;
    this.ts[idx] = t;
    this.vs[idx] = v;
    if (this.count < this.capacity) this.count++;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** Time of the i-th sample, oldest first. */
  timeAt(i: number): number {
    return this.ts[(this.start + i) % this.capacity] ?? Number.NaN;
  }

  /** Value of the i-th sample, oldest first. */
  valueAt(i: number): number {
    return this.vs[(this.start + i) % this.capacity] ?? Number.NaN;
  }

  /** Time of the newest sample, or NaN when empty. */
  lastTime(): number {
    return this.count === 0 ? Number.NaN : this.timeAt(this.count - 1);
  }

  /** Time of the oldest sample, or NaN when empty. */
  firstTime(): number {
    return this.count === 0 ? Number.NaN : this.timeAt(0);
  }

  /** Copies the samples with time > `after` (all by default), oldest first. */
  toArrays(after = Number.NEGATIVE_INFINITY): { t: number[]; v: number[] } {
    const t: number[] = [];
    const v: number[] = [];
    // Samples are appended in time order, so the first match starts the tail.
    let i = this.count;
    while (i > 0 && this.timeAt(i - 1) > after) i--;
    for (; i < this.count; i++) {
      t.push(this.timeAt(i));
      v.push(this.valueAt(i));
    }
    return { t, v };
  }

  /** Drops everything. */
  clear(): void {
    this.start = 0;
    this.count = 0;
  }
}
