/**
 * Teardown written once: each part of a composition is registered as it is set up, and undone
 * newest first, whether the composition stops or its start fails half-way. Where a part must be
 * undone earlier than its construction would say (the plant core stops before the uplink that
 * was built on it, so the last samples are still batched), it is registered later, next to the
 * reason. The shape of TC39's AsyncDisposableStack, which Node 20 lacks.
 */
import { ConsoleError } from './errors';
import type { Logger } from './log';

/** One registered undo step, named for the log. */
interface Step {
  name: string;
  undo: () => void | Promise<void>;
}

/** Undo steps run in reverse order of registration, each once. */
export class Teardown {
  private readonly steps: Step[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly log: Logger) {}

  /** Registers `undo` to run before everything registered earlier. */
  defer(name: string, undo: () => void | Promise<void>): void {
    if (this.running) throw new ConsoleError('UNAVAILABLE', `Cannot register "${name}": teardown has begun`);
    this.steps.push({ name, undo });
  }

  /** Registers `value`'s undo and returns `value`, so a part is set up and registered in one line. */
  use<T>(name: string, value: T, undo: (value: T) => void | Promise<void>): T {
    this.defer(name, () => undo(value));
    return value;
  }

  /** How many steps are registered and not yet run. */
  get size(): number {
    return this.steps.length;
  }

  /**
   * Runs every step, newest first. A step that fails is logged and the rest still run, so nothing
   * stays open behind a failure; the promise then rejects naming every step that failed. A second
   * call waits for the first.
   */
  run(): Promise<void> {
    this.running ??= this.runAll();
    return this.running;
  }

  private async runAll(): Promise<void> {
    const failed: { name: string; err: unknown }[] = [];
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step.undo();
      } catch (err) {
        failed.push({ name: step.name, err });
        this.log.log('error', `Teardown: ${step.name} failed`, {
          step: step.name,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
    if (failed.length > 0) {
      const names = failed.map((f) => f.name).join(', ');
      throw new ConsoleError('INTERNAL', `Did not stop cleanly: ${names} (the console log has the detail)`, {
        cause: failed.length === 1 ? failed[0]!.err : new AggregateError(failed.map((f) => f.err)),
      });
    }
  }
}
