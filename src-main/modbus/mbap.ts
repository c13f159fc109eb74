/**
 * Modbus TCP (MBAP) over one connection to a device or a gateway with several units behind it.
 *
 * Every answer is checked before it is believed: protocol id, transaction id, length, unit,
 * function, byte count or write echo. After a timeout or a malformed answer the connection is
 * dropped and the next request reconnects: a late or misaligned answer then arrives on a dead
 * socket and can never be matched to a later request. A Modbus exception is a well-framed answer,
 * so the connection stays.
 */
import { ConsoleError } from '../core/errors';
import type { Channel, ChannelState, Exchange, ExchangeResult } from './channel';
import { checkAnswer, exceptionError, malformedError, timeoutError } from './framing';
import type { ByteStream } from './streams';

interface Pending {
  x: Exchange;
  tid: number;
  received: Buffer;
  resolve: (data: ExchangeResult) => void;
  reject: (err: ConsoleError) => void;
}

/** A Modbus TCP channel: one request in flight, matched by transaction id. */
export class MbapChannel implements Channel {
  readonly minGapMs = 0;
  readonly address: string;
  private stateValue: ChannelState = 'offline';
  private tid = 0;
  private pending: Pending | null = null;
  private last = -Infinity;

  constructor(
    private readonly stream: ByteStream,
    private readonly now: () => number,
    private readonly onState: (s: ChannelState) => void = () => undefined,
  ) {
    this.address = stream.address;
    stream.onData = (chunk) => this.onData(chunk);
    stream.onClose = (err) => this.onClose(err);
  }

  get state(): ChannelState {
    return this.stateValue;
  }

  lastActivity(): number {
    return this.last;
  }

  wireTimeMs(): number {
    return 0;
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
    this.setState('online');
  }

  prepare(): Promise<void> {
    return Promise.resolve();
  }

  exchange(x: Exchange): Promise<ExchangeResult> {
    if (this.stateValue !== 'online') {
      return Promise.reject(new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} closed before the request could be sent`));
    }
    this.tid = (this.tid % 0xffff) + 1;
    const tid = this.tid;
    const head = Buffer.alloc(7);
    head.writeUInt16BE(tid, 0);
    head.writeUInt16BE(0, 2);
    head.writeUInt16BE(x.pdu.length + 1, 4);
    head.writeUInt8(x.unitId, 6);
    return new Promise<ExchangeResult>((resolve, reject) => {
      const p: Pending = { x, tid, received: Buffer.alloc(0), resolve, reject };
      this.pending = p;
      this.last = this.now();
      this.stream.write(Buffer.concat([head, x.pdu])).catch((err: unknown) => {
        if (this.pending !== p) return;
        this.fail(err instanceof ConsoleError ? err : new ConsoleError('MODBUS_CLOSED', String(err)));
        this.drop();
      });
    });
  }

  expire(timeoutMs: number): void {
    const p = this.pending;
    if (!p) return;
    const target = { address: this.address, unitId: p.x.unitId };
    // Part of an answer is not "no answer": say what came.
    if (p.received.length > 0)
      this.fail(malformedError(target, p.x.what, `incomplete answer (${p.received.length} byte(s)) within ${timeoutMs} ms`));
    else this.fail(timeoutError(target, timeoutMs));
    this.drop();
  }

  async close(): Promise<void> {
    this.setState('closed');
    this.fail(new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} closed by the console`));
    await this.stream.close();
  }

  private setState(s: ChannelState): void {
    if (this.stateValue === s || this.stateValue === 'closed') return;
    this.stateValue = s;
    this.onState(s);
  }

  private onData(chunk: Buffer): void {
    this.last = this.now();
    const p = this.pending;
    if (!p) {
      // Bytes nobody asked for: the stream can no longer be trusted to stay aligned.
      this.drop();
      return;
    }
    p.received = p.received.length === 0 ? chunk : Buffer.concat([p.received, chunk]);
    const buf = p.received;
    if (buf.length < 7) return;
    const target = { address: this.address, unitId: p.x.unitId };
    const protocol = buf.readUInt16BE(2);
    const tid = buf.readUInt16BE(0);
    const len = buf.readUInt16BE(4);
    let problem: string | null = null;
    if (protocol !== 0) problem = `not a Modbus TCP frame (protocol id ${protocol}, expected 0)`;
    else if (tid !== p.tid) problem = `answer to transaction ${tid}, expected ${p.tid}`;
    else if (len < 3 || len > 254) problem = `frame length ${len} is impossible (3–254)`;
    else if (buf.length < 6 + len) return;
    else if (buf.length > 6 + len) problem = `${buf.length - 6 - len} unexpected byte(s) after the answer`;
    if (problem === null) {
      const check = checkAnswer(p.x.expect, p.x.unitId, buf.readUInt8(6), buf.subarray(7));
      if (check.ok) {
        this.pending = null;
        p.resolve(check.data);
        return;
      }
      if ('exception' in check) {
        this.fail(exceptionError(target, p.x.what, check.exception));
        return;
      }
      problem = check.problem;
    }
    this.fail(malformedError(target, p.x.what, problem));
    this.drop();
  }

  private onClose(err: NodeJS.ErrnoException | null): void {
    const p = this.pending;
    if (p) {
      const how = err?.code === 'ECONNRESET' ? 'reset by' : 'closed by';
      const when = p.received.length > 0 ? 'in the middle of its answer' : 'before it answered';
      this.fail(
        new ConsoleError('MODBUS_CLOSED', `connection ${how} ${this.address} ${when} (unit ${p.x.unitId}, ${p.x.what})`, {
          cause: err ?? undefined,
        }),
      );
    }
    this.setState('offline');
  }

  /** Drops the connection; the next request reconnects. */
  private drop(): void {
    this.stream.drop();
    this.setState('offline');
  }

  private fail(err: ConsoleError): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    p.reject(err);
  }
}
