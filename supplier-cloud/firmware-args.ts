/**
 * Argument helpers shared by the `supplier-cloud firmware` commands: every bad argument becomes a
 * BAD_REQUEST (exit code 2) whose message names the flag and what it needs.
 */
import { ConsoleError } from '../src-main/core/errors';

/** Output channels and the clock (tests inject them). */
export interface FirmwareIo {
  out: (s: string) => void;
  err: (s: string) => void;
  now?: () => number;
}

/** A usage error. */
export function bad(message: string): ConsoleError {
  return new ConsoleError('BAD_REQUEST', message);
}

/** The value of a required flag. */
export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw bad(`${flag} is required`);
  return value;
}

/** A required whole-number flag, at least `min`. */
export function integer(value: string | undefined, flag: string, min: number): number {
  const text = required(value, flag);
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw bad(`${flag} must be a whole number ≥ ${min}, not "${text}"`);
  return n;
}

/** A time for people. */
export const iso = (t: number): string => new Date(t).toISOString();
