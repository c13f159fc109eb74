/**
 * Holding the console API's answers to the contract in tests. Handlers are typed from the
 * contract (service.ts `CommandHandlers`), but a type is not a check: a cast, a subsystem's
 * `unknown`, or the narrowing of a remote session can still hand out what the response schema
 * refuses. With a watcher installed, `ConsoleApi` parses every answer and every event payload
 * with its schema; one that fails is reported to the watcher, and the caller gets `INTERNAL`
 * instead (an event is dropped). The vitest setup file `test/helpers/answer-watch.ts` installs
 * one for every test file and fails the test that saw a bad answer. Production installs none:
 * the plant PC does not parse its own answers a second time.
 */

/** An answer or event payload that its schema refused. */
export interface AnswerProblem {
  kind: 'command' | 'event';
  /** The command or event stream. */
  name: string;
  /** The schema's complaints, "path: message; …". */
  problem: string;
}

/** Told of every answer that does not match its schema. */
export type AnswerWatcher = (problem: AnswerProblem) => void;

let watcher: AnswerWatcher | null = null;

/** Installs the watcher (null removes it); returns the one it replaces. */
export function watchAnswers(next: AnswerWatcher | null): AnswerWatcher | null {
  const previous = watcher;
  watcher = next;
  return previous;
}

/** The watcher installed now, if any. */
export function answerWatcher(): AnswerWatcher | null {
  return watcher;
}
