/**
 * A poller the tests drive by hand: no sockets, every poll result emitted explicitly, so the
 * core, the API and the alarm engine can be tested at exact times.
 */
import type { ResolvedDevice } from '../../src-main/config/schema';
import type { Poller, PollResult } from '../../src-main/core/types';
import type { Link, PointValue } from '../../src-preload/contract';

/** A hand-driven Poller; `emit` delivers one good poll of every point of the profile. */
export class FakePoller implements Poller {
  started = false;
  stopped = false;
  private readonly handlers = new Set<(r: PollResult) => void>();
  private current: Link;

  constructor(
    readonly device: ResolvedDevice,
    private readonly since: number,
  ) {
    this.current = {
      state: 'connecting',
      since,
      lastOkAt: null,
      lastError: null,
      consecutiveFailures: 0,
      pollsOk: 0,
      pollsFailed: 0,
      lastPollMs: null,
    };
  }

  start(): void {
    this.started = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }

  onResult(handler: (r: PollResult) => void): () => void {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  link(): Link {
    return this.current;
  }

  // Writes are tested in writes.test.ts; here the device refuses them outright.
  async write(): Promise<void> {
    throw new Error('FakePoller does not write');
  }

  async readPoint(): Promise<PointValue> {
    throw new Error('FakePoller does not read single points');
  }

  /** Emits a poll result with every point good: state raw value as given, numbers 0 unless given; `link` amends the link. */
  emit(ts: number, state: number, given: Record<string, number> = {}, link: Partial<Link> = {}): void {
    this.current = {
      ...this.current,
      state: 'online',
      since: this.since,
      lastOkAt: ts,
      pollsOk: this.current.pollsOk + 1,
      lastPollMs: 3,
      ...link,
    };
    const values: Record<string, PointValue> = {};
    for (const p of this.device.profileDef.points) {
      const value = p.type === 'string' ? 'XYZ' : p.type === 'bool' ? false : p.role === 'state' ? state : (given[p.id] ?? 0);
      values[p.id] = { value, raw: [0], quality: 'good', ts, reason: null };
    }
    for (const h of this.handlers) h({ deviceId: this.device.id, ts, values, link: this.current });
  }
}
