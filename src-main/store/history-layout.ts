/**
 * How the SQL history lays samples out in time (shared by the store on the main thread, its
 * writer and the migration): a chunk never spans two 10-minute blocks, so each block of a series
 * ends up as one compacted chunk, and a rollup chunk holds one hour of minutes.
 */

/** The default disk budget of the store (MiB), sized in README for a plant of 50 machines × 200 points at 1 Hz. */
export const DEFAULT_DISK_BUDGET_MB = 16 * 1024;

/** Raw samples are compacted into one chunk per series and block of this length. */
export const BLOCK_MS = 600_000;

/** An open chunk is sealed once it holds this many samples (memory bound at high poll rates). */
export const MAX_CHUNK_SAMPLES = 8192;

/** The start of the block `t` falls in. */
export function blockStart(t: number): number {
  return Math.floor(t / BLOCK_MS) * BLOCK_MS;
}

/** Chunks sealed from memory and handed to the writer at once; samples packed in chunk order. */
export interface SealedBatch {
  /** The main thread's clock when sealed (the writer has none of its own: tests drive it). */
  now: number;
  /** Series first written with this batch: [id, machine, point]. */
  series: [number, string, string][];
  /** Per chunk: [chunk id, series id, samples]. */
  chunks: [number, number, number][];
  t: Float64Array;
  v: Float64Array;
}
