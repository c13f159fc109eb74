/** A minimal structured logger: one line per event, secrets never passed in. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Writes `time level msg {fields}` lines to stderr at or above `min`. */
export function consoleLogger(min: LogLevel = 'info', write: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  return {
    log(level, msg, fields) {
      if (ORDER[level] < ORDER[min]) return;
      const extra = fields && Object.keys(fields).length ? ' ' + JSON.stringify(fields) : '';
      write(`${new Date().toISOString()} ${level.padEnd(5)} ${msg}${extra}`);
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
