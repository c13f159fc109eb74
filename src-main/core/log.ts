/**
 * A minimal structured logger: one line per event, secrets never passed in.
 *
 * Messages and fields carry values from outside (command and stream names, hosts, device
 * answers), so the logger itself makes every line one line: control characters in the message
 * become visible escapes (`\n`, `\x1b`, `\u2028`), and fields are JSON whose escapes also cover
 * DEL, the C1 controls and the Unicode line separators. Nothing written through it can forge a
 * second log line or drive a terminal.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** C0 controls, DEL, C1 controls and the Unicode line and paragraph separators. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` with every control character shown as an escape, so it stays on one line. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    const short = SHORT[c];
    if (short) return short;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** JSON of the fields; JSON escapes C0 already, the rest of CONTROL is escaped as \uXXXX (still valid JSON). */
function fieldsJson(fields: Record<string, unknown>): string {
  let json: string;
  try {
    json = JSON.stringify(fields);
  } catch (err) {
    json = JSON.stringify({ unloggableFields: err instanceof Error ? err.message : String(err) });
  }
  return json.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Writes `time level msg {fields}` lines to stderr at or above `min`, each exactly one line. */
export function consoleLogger(min: LogLevel = 'info', write: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  return {
    log(level, msg, fields) {
      if (ORDER[level] < ORDER[min]) return;
      const extra = fields && Object.keys(fields).length ? ' ' + fieldsJson(fields) : '';
      write(`${new Date().toISOString()} ${level.padEnd(5)} ${escapeControl(String(msg))}${extra}`);
    },
  };
}

/** Discards everything (tests). */
export const silentLogger: Logger = { log() {} };

/** Keeps lines in memory (tests that assert what was logged). */
export function memoryLogger(): Logger & { lines: { level: LogLevel; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: LogLevel; msg: string; fields?: Record<string, unknown> }[] = [];
  return { lines, log: (level, msg, fields) => void lines.push(fields ? { level, msg, fields } : { level, msg }) };
}

/** Appends the lines at or above `min` to `file` (created mode 0600, its directory 0700). */
export function fileLogger(file: string, min: LogLevel = 'info'): Logger & { close(): void } {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const fd = openSync(file, 'a', 0o600);
  let open = true;
  const inner = consoleLogger(min, (line) => {
    if (open) writeSync(fd, line + '\n');
  });
  return {
    log: (level, msg, fields) => inner.log(level, msg, fields),
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** Gives every line to each of `loggers` (each keeps its own level). */
export function teeLogger(...loggers: Logger[]): Logger {
  return { log: (level, msg, fields) => loggers.forEach((l) => l.log(level, msg, fields)) };
}
