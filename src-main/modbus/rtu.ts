/**
 * Modbus RTU over a byte stream: a serial port, or a TCP socket to a serial device server
 * (`rtu-tcp`). RTU has no transaction id, so the channel relies on three things:
 * - every answer is checked in full (CRC first, then unit, function, byte count or echo);
 * - a frame ends when the length its own header announces has arrived, or when the line falls
 *   quiet (`silenceMs`) — then what arrived is judged as it is (a short frame, a bad count);
 * - after a timeout, a bad answer or stray bytes the channel is "dirty": before the next request
 *   it discards input until the line has been quiet for `silenceMs` (not after a frame whose only
 *   fault is its CRC and that ended at its announced length: noise, the line is quiet); and for twice its timeout
 *   after a unit timed out, a different request to it whose answer would look the same (same
 *   unit, function and length: nothing else could tell them apart) waits until that window is
 *   over. Polls rarely pay for this: after a timeout they repeat the same request, whose late
 *   answer is as good as a fresh one. A late answer is thus never taken for another request's,
 *   unless it comes later than three timeouts after its request.
 * A closed socket or port is reopened on the next request; the line stays the same.
 */
import { ConsoleError } from '../core/errors';
import type { Channel, ChannelState, Exchange, ExchangeResult } from './channel';
import { Sleeper } from './channel';
import { crcError, exceptionError, judgeRtuAnswer, malformedError, rtuAnswerLength, rtuFrame, timeoutError } from './framing';
import type { ByteStream } from './streams';

export interface RtuChannelOptions {
  /** Bits per character on the wire (start + 8 data + parity + stop), for serial lines. */
  bitsPerChar?: number;
  /** Baud rate of a serial line; absent for RTU over TCP (no wire timing). */
  baudRate?: number;
  /** How long the line must stay quiet to end a frame or finish a resync, ms. */
  silenceMs?: number;
  now: () => number;
  onState?: (s: ChannelState) => void;
}

interface Pending {
  x: Exchange;
  received: Buffer;
  resolve: (data: ExchangeResult) => void;
  reject: (err: ConsoleError) => void;
}

/** Longest a resync may wait for quiet, in passes: noise that never stops must not hold the line forever. */
const MAX_QUIET_PASSES = 64;

/** An RTU channel: one request in flight, framed by length and silence, resynchronised by silence. */
export class RtuChannel implements Channel {
  readonly address: string;
  readonly minGapMs: number;
  private readonly charMs: number;
  private readonly silenceMs: number;
  private readonly now: () => number;
  private readonly onState: (s: ChannelState) => void;
  private readonly sleeper = new Sleeper();
  private stateValue: ChannelState = 'offline';
  private pending: Pending | null = null;
  private silenceTimer: NodeJS.Timeout | null = null;
  private lastRx = -Infinity;
  private lastTx = -Infinity;
  private dirty = true;
  /** The last request that timed out: its late answer may still come. */
  private late: { unitId: number; fc: number; length: number; pdu: Buffer; until: number } | null = null;

  constructor(
    private readonly stream: ByteStream,
    opts: RtuChannelOptions,
  ) {
    this.address = stream.address;
    this.now = opts.now;
    this.onState = opts.onState ?? (() => undefined);
    this.charMs = opts.baudRate ? ((opts.bitsPerChar ?? 11) * 1000) / opts.baudRate : 0;
    // Modbus over Serial Line §2.5.1.1: 3.5 characters, fixed at 1.75 ms above 19200 baud.
    this.minGapMs = opts.baudRate ? (opts.baudRate > 19200 ? 1.75 : 3.5 * this.charMs) : 0;
    this.silenceMs = Math.max(opts.silenceMs ?? 20, this.minGapMs);
    stream.onData = (chunk) => this.onData(chunk);
    stream.onClose = (err) => this.onClose(err);
  }

  get state(): ChannelState {
    return this.stateValue;
  }

  lastActivity(): number {
    return Math.max(this.lastRx, this.lastTx);
  }

  wireTimeMs(x: Exchange): number {
    return this.charMs * (x.pdu.length + 3 + rtuAnswerLength(x.expect));
  }

  async open(timeoutMs: number): Promise<void> {
    if (this.stateValue === 'closed') throw new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} is closed`);
    if (this.stream.isOpen && this.stateValue === 'online') return;
    this.setState('connecting');
    try {
      await this.stream.open(timeoutMs);
    } catch (err) {
      this.setState('offline');
      throw err;
    }
    // Whatever the OS buffered before we opened is not an answer to anything we will send:
    // the first request waits for a quiet line, counted from the open.
    this.dirty = true;
    this.lastRx = this.now();
    this.setState('online');
  }

  async prepare(x: Exchange, capMs: number): Promise<void> {
    const late = this.late;
    if (late && this.now() >= late.until) this.late = null;
    else if (
      late &&
      late.unitId === x.unitId &&
      late.fc === x.expect.fc &&
      late.length === rtuAnswerLength(x.expect) &&
      !late.pdu.equals(x.pdu)
    ) {
      // Same unit, same function, same answer length: a late answer would pass every check.
      await this.sleeper.sleep(late.until - this.now());
      this.late = null;
      this.dirty = true;
    }
    if (!this.dirty) return;
    const start = this.now();
    for (let pass = 0; pass < MAX_QUIET_PASSES && this.stateValue !== 'closed'; pass++) {
      const wait = this.lastRx + this.silenceMs - this.now();
      if (wait <= 0 || this.now() - start >= capMs) break;
      await this.sleeper.sleep(Math.min(wait, capMs));
    }
    this.dirty = false;
  }

  exchange(x: Exchange): Promise<ExchangeResult> {
    if (this.stateValue !== 'online') {
      return Promise.reject(new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} closed before the request could be sent`));
    }
    return new Promise<ExchangeResult>((resolve, reject) => {
      const p: Pending = { x, received: Buffer.alloc(0), resolve, reject };
      this.pending = p;
      const frame = rtuFrame(x.unitId, x.pdu);
      this.lastTx = this.now();
      this.stream.write(frame).then(
        () => {
          this.lastTx = this.now();
        },
        (err: unknown) => {
          if (this.pending !== p) return;
          this.fail(err instanceof ConsoleError ? err : new ConsoleError('MODBUS_CLOSED', String(err)));
        },
      );
    });
  }

  expire(timeoutMs: number): void {
    const p = this.pending;
    if (!p) return;
    const target = { address: this.address, unitId: p.x.unitId };
    if (p.received.length > 0) {
      // Something came, but never a whole frame: say what it was rather than "no answer".
      this.judge(p, true);
      if (this.pending !== p) return;
      this.fail(malformedError(target, p.x.what, `incomplete answer (${p.received.length} byte(s)) within ${timeoutMs} ms`));
    } else {
      this.late = {
        unitId: p.x.unitId,
        fc: p.x.expect.fc,
        length: rtuAnswerLength(p.x.expect),
        pdu: p.x.pdu,
        until: this.now() + 2 * timeoutMs,
      };
      this.fail(timeoutError(target, timeoutMs));
    }
    this.dirty = true;
  }

  async close(): Promise<void> {
    this.setState('closed');
    this.sleeper.cancelAll();
    this.fail(new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} closed by the console`));
    await this.stream.close();
  }

  private setState(s: ChannelState): void {
    if (this.stateValue === s || this.stateValue === 'closed') return;
    this.stateValue = s;
    this.onState(s);
  }

  private onData(chunk: Buffer): void {
    this.lastRx = this.now();
    const p = this.pending;
    if (!p) {
      // Late, stray or trailing bytes: never part of an answer; wait for quiet before sending.
      this.dirty = true;
      return;
    }
    p.received = p.received.length === 0 ? chunk : Buffer.concat([p.received, chunk]);
    this.judge(p, false);
    if (this.pending === p) this.armSilence(p);
  }

  private armSilence(p: Pending): void {
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => {
      this.silenceTimer = null;
      if (this.pending === p) this.judge(p, true);
    }, this.silenceMs);
  }

  /** Settles `p` if what it received is a complete (or, when quiet, a final) answer. */
  private judge(p: Pending, quiet: boolean): void {
    const v = judgeRtuAnswer(p.x.expect, p.x.unitId, p.received, quiet);
    if (v.status === 'incomplete') return;
    const target = { address: this.address, unitId: p.x.unitId };
    if (v.status === 'ok' || v.status === 'exception') {
      if (v.extra > 0) this.dirty = true;
      if (v.status === 'ok') {
        this.clearPending();
        p.resolve(v.data);
      } else {
        this.fail(exceptionError(target, p.x.what, v.exception));
      }
      return;
    }
    // A frame spoiled in transit that ended where its own header said leaves a quiet line: the
    // retry needs only the 3.5 characters every request keeps. Anything else: wait for quiet.
    if (!(v.status === 'crc' && v.extra === 0 && !quiet)) this.dirty = true;
    this.fail(v.status === 'crc' ? crcError(target, p.x.what, v.detail) : malformedError(target, p.x.what, v.detail));
  }

  private onClose(err: NodeJS.ErrnoException | null): void {
    const p = this.pending;
    if (p) {
      const when = p.received.length > 0 ? 'in the middle of its answer' : 'before it answered';
      this.fail(
        new ConsoleError(
          'MODBUS_CLOSED',
          `connection to ${this.address} lost ${when} (unit ${p.x.unitId}, ${p.x.what})${err ? `: ${err.message}` : ''}`,
          {
            cause: err ?? undefined,
          },
        ),
      );
    }
    this.dirty = true;
    this.setState('offline');
  }

  private clearPending(): void {
    this.pending = null;
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.silenceTimer = null;
  }

  private fail(err: ConsoleError): void {
    const p = this.pending;
    if (!p) return;
    this.clearPending();
    p.reject(err);
  }
}
