/**
 * One Modbus TCP connection to one device (or gateway): explicit states, one request at a time,
 * a timeout per request, and every failure turned into a ConsoleError an operator can act on.
 *
 * modbus-serial's ModbusRTU does the request encoding and the answer parsing. Around it:
 * - We open the socket ourselves and hand it over with `linkTCP`, so that we own its error and
 *   close events (nothing thrown uncaught, `close()` can wait until the socket is really gone)
 *   and can enforce a connect timeout.
 * - modbus-serial does not fail a pending request when the socket closes (it waits for its
 *   timeout), does not check the byte count, and silently drops answers whose transaction id it
 *   does not know (which turns garbage into a timeout). So we check each answer's framing
 *   ourselves before modbus-serial parses it.
 * - We run our own timer instead of modbus-serial's, and drop the connection after a timeout or
 *   a malformed answer: a late or misaligned answer must never be matched to a later request.
 */
import { Socket } from 'node:net';
import ModbusRTU from 'modbus-serial';
import { ConsoleError } from '../core/errors';
import type { PointFunction } from '../../src-preload/contract';

export type ConnectionState = 'connecting' | 'online' | 'offline' | 'closed';

export interface ConnectionOptions {
  host: string;
  port: number;
  /** How long to wait for each answer (and for the TCP connection to be established). */
  timeoutMs: number;
  onStateChange?: (state: ConnectionState) => void;
}

const FUNCTION_CODE: Record<PointFunction, 1 | 2 | 3 | 4> = { coil: 1, discrete: 2, holding: 3, input: 4 };
const WHAT: Record<PointFunction, [string, string]> = {
  coil: ['coil', 'coils'],
  discrete: ['discrete input', 'discrete inputs'],
  holding: ['holding register', 'holding registers'],
  input: ['input register', 'input registers'],
};
const MAX_COUNT: Record<PointFunction, number> = { coil: 2000, discrete: 2000, holding: 125, input: 125 };

/** Modbus exception codes 1–11 (Modbus Application Protocol v1.1b3, §7). */
const EXCEPTION_TEXT: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge (request accepted, still processing)',
  6: 'server device busy',
  7: 'negative acknowledge',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

/** Readable text of a Modbus exception code. */
export function exceptionText(code: number): string {
  return EXCEPTION_TEXT[code] ?? 'unknown exception';
}

/** "input registers 0–14", "coil 3": what a read covers, for messages. */
export function describeRead(fn: PointFunction, start: number, count: number): string {
  const [one, many] = WHAT[fn];
  return count === 1 ? `${one} ${start}` : `${many} ${start}–${start + count - 1}`;
}

interface Pending {
  fn: PointFunction;
  start: number;
  count: number;
  unitId: number;
  /** Transaction id modbus-serial put on the request; null if it could not be read. */
  tid: number | null;
  received: Buffer;
  timer: NodeJS.Timeout;
  resolve: (v: number[]) => void;
  reject: (e: ConsoleError) => void;
}

/** The slice of modbus-serial's internals we read: the id its TCP port puts on the next request. */
interface TcpPortInternals {
  _port?: { _transactionIdWrite?: unknown };
}

/** A Modbus TCP client connection with a request queue; reconnects on demand before a request. */
export class ModbusTcpConnection {
  private stateValue: ConnectionState = 'offline';
  private socket: Socket | null = null;
  private client: ModbusRTU | null = null;
  /** Close events of every socket not yet fully closed (a dropped one may still be closing). */
  private readonly closing = new Set<Promise<void>>();
  private socketError: NodeJS.ErrnoException | null = null;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  readonly address: string;

  constructor(private readonly opts: ConnectionOptions) {
    this.address = `${opts.host}:${opts.port}`;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Reads `count` registers (or bits as 0/1) from `start`; queued behind earlier requests. */
  read(fn: PointFunction, start: number, count: number, unitId: number): Promise<number[]> {
    const run = this.queue.then(() => this.execute(fn, start, count, unitId));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Fails what is pending, closes the socket; resolves once the socket is fully closed. */
  async close(): Promise<void> {
    this.setState('closed');
    this.failPending(new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} closed by the console`));
    this.socket?.destroy();
    await Promise.all([...this.closing]);
  }

  private setState(s: ConnectionState): void {
    if (this.stateValue === s || this.stateValue === 'closed') return;
    this.stateValue = s;
    this.opts.onStateChange?.(s);
  }

  private async execute(fn: PointFunction, start: number, count: number, unitId: number): Promise<number[]> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT[fn] || !Number.isInteger(start) || start < 0 || start + count > 0x10000) {
      throw new ConsoleError('BAD_REQUEST', `cannot read ${count} ${WHAT[fn][1]} from address ${start} in one request`);
    }
    if (this.stateValue === 'closed') throw new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} is closed`);
    if (this.stateValue !== 'online' || !this.client) await this.connect();
    const client = this.client;
    if (!client || this.stateValue !== 'online') throw new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} is closed`);
    return new Promise<number[]>((resolve, reject) => {
      const tidRaw = (client as unknown as TcpPortInternals)._port?._transactionIdWrite;
      const p: Pending = {
        fn,
        start,
        count,
        unitId,
        tid: typeof tidRaw === 'number' ? tidRaw : null,
        received: Buffer.alloc(0),
        timer: setTimeout(() => {
          if (this.pending !== p) return;
          this.failPending(
            new ConsoleError('MODBUS_TIMEOUT', `no answer from ${this.address} unit ${unitId} within ${this.opts.timeoutMs} ms`),
          );
          this.drop();
        }, this.opts.timeoutMs),
        resolve,
        reject,
      };
      this.pending = p;
      const done = (err: unknown, res: { data: readonly (number | boolean)[] } | undefined): void => {
        if (this.pending !== p) return; // already failed by a timeout, our own check or a close
        if (err) {
          const mapped = this.libraryError(p, err);
          this.failPending(mapped);
          // An exception is a well-framed answer: the connection stays usable.
          if (mapped.code !== 'MODBUS_EXCEPTION') this.drop();
          return;
        }
        const data = (res?.data ?? []).slice(0, count).map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
        if (data.length !== count) {
          this.failPending(this.malformed(p, `${data.length} value(s) instead of ${count}`));
          this.drop();
          return;
        }
        this.settle(p);
        resolve(data);
      };
      const code = FUNCTION_CODE[fn];
      if (code === 1) client.writeFC1(unitId, start, count, done);
      else if (code === 2) client.writeFC2(unitId, start, count, done);
      else if (code === 3) client.writeFC3(unitId, start, count, done);
      else client.writeFC4(unitId, start, count, done);
    });
  }

  private async connect(): Promise<void> {
    this.setState('connecting');
    const socket = new Socket();
    this.socket = socket;
    this.socketError = null;
    const gone = new Promise<void>((res) => socket.once('close', () => res()));
    this.closing.add(gone);
    void gone.then(() => this.closing.delete(gone));
    // Registered before modbus-serial's listeners, so our checks see each chunk first.
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    // Always listened to: an unhandled 'error' event would crash the process.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.socket === socket) this.socketError = err;
    });
    socket.on('close', () => this.onClose(socket));

    await new Promise<void>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        socket.destroy();
      }, this.opts.timeoutMs);
      const onConnect = (): void => {
        clearTimeout(timer);
        socket.off('close', onEarlyClose);
        resolve();
      };
      const onEarlyClose = (): void => {
        clearTimeout(timer);
        socket.off('connect', onConnect);
        if (this.stateValue === 'closed') {
          reject(new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} closed by the console`));
        } else if (timedOut) {
          reject(new ConsoleError('MODBUS_CONNECT', `cannot connect to ${this.address}: no answer within ${this.opts.timeoutMs} ms`));
        } else {
          reject(connectError(this.address, this.socketError));
        }
      };
      socket.once('connect', onConnect);
      socket.once('close', onEarlyClose);
      socket.connect({ host: this.opts.host, port: this.opts.port });
    });

    socket.setNoDelay(true);
    const client = new ModbusRTU();
    // ModbusRTU re-emits port errors as 'error'; TcpPort never does, but be safe.
    client.on('error', () => undefined);
    try {
      await client.linkTCP(socket, { host: this.opts.host, port: this.opts.port });
    } catch (err) {
      socket.destroy();
      throw new ConsoleError('MODBUS_CONNECT', `cannot connect to ${this.address}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    if (this.socket !== socket || socket.destroyed) {
      socket.destroy();
      throw new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} closed while it was being set up`);
    }
    this.client = client;
    this.setState('online');
  }

  /** Checks the framing of the answer to the pending request; modbus-serial then parses it. */
  private onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    const p = this.pending;
    if (!p) {
      // Bytes nobody asked for: the stream can no longer be trusted to stay aligned.
      this.drop();
      return;
    }
    p.received = Buffer.concat([p.received, chunk]);
    const problem = frameProblem(p, p.received);
    if (problem) {
      this.failPending(this.malformed(p, problem));
      this.drop();
    }
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    this.socket = null;
    this.client = null;
    const p = this.pending;
    if (p) {
      const err = this.socketError;
      const how = err?.code === 'ECONNRESET' ? 'reset by' : 'closed by';
      const when = p.received.length > 0 ? 'in the middle of its answer' : 'before it answered';
      this.failPending(
        new ConsoleError(
          'MODBUS_CLOSED',
          `connection ${how} ${this.address} ${when} (unit ${p.unitId}, reading ${describeRead(p.fn, p.start, p.count)})`,
          { cause: err ?? undefined },
        ),
      );
    }
    this.setState('offline');
  }

  /** Drops the socket; the next request reconnects. */
  private drop(): void {
    this.client = null;
    this.socket?.destroy();
    this.setState('offline');
  }

  private settle(p: Pending): void {
    clearTimeout(p.timer);
    if (this.pending === p) this.pending = null;
  }

  private failPending(err: ConsoleError): void {
    const p = this.pending;
    if (!p) return;
    this.settle(p);
    p.reject(err);
  }

  private malformed(p: Pending, detail: string): ConsoleError {
    return new ConsoleError(
      'MODBUS_MALFORMED',
      `malformed answer from ${this.address} unit ${p.unitId} reading ${describeRead(p.fn, p.start, p.count)}: ${detail}`,
    );
  }

  /** Maps what modbus-serial reports (plain Errors, `modbusCode` on exceptions). */
  private libraryError(p: Pending, err: unknown): ConsoleError {
    const modbusCode = (err as { modbusCode?: unknown } | null)?.modbusCode;
    if (typeof modbusCode === 'number') {
      return new ConsoleError(
        'MODBUS_EXCEPTION',
        `${exceptionText(modbusCode)} (exception ${modbusCode}) reading ${describeRead(p.fn, p.start, p.count)}`,
        { cause: err },
      );
    }
    const msg = err instanceof Error ? err.message : String((err as { message?: unknown } | null)?.message ?? err);
    // modbus-serial refuses to send when its port saw the socket close in the meantime.
    if (msg === 'Port Not Open') {
      return new ConsoleError('MODBUS_CLOSED', `connection to ${this.address} closed before the request could be sent`, { cause: err });
    }
    return new ConsoleError('MODBUS_MALFORMED', `malformed answer from ${this.address} unit ${p.unitId}: ${msg}`, { cause: err });
  }
}

/** What is wrong with the (possibly partial) answer `buf`, or null if it is fine so far. */
function frameProblem(p: Pending, buf: Buffer): string | null {
  if (buf.length < 7) return null;
  const tid = buf.readUInt16BE(0);
  const protocol = buf.readUInt16BE(2);
  const len = buf.readUInt16BE(4);
  if (protocol !== 0) return `not a Modbus TCP frame (protocol id ${protocol}, expected 0)`;
  if (p.tid !== null && tid !== p.tid) return `answer to transaction ${tid}, expected ${p.tid}`;
  if (len < 3 || len > 254) return `frame length ${len} is impossible (3–254)`;
  if (buf.length < 6 + len) return null;
  if (buf.length > 6 + len) return `${buf.length - 6 - len} unexpected byte(s) after the answer`;
  const unit = buf.readUInt8(6);
  const fc = buf.readUInt8(7);
  const code = FUNCTION_CODE[p.fn];
  if (unit !== p.unitId) return `answer from unit ${unit}, expected unit ${p.unitId}`;
  if (fc === (code | 0x80)) return len === 3 ? null : `exception frame of ${len} bytes, expected 3`;
  if (fc !== code) return `answer for function ${fc}, expected ${code}`;
  const expectBytes = code <= 2 ? Math.ceil(p.count / 8) : p.count * 2;
  const byteCount = buf.readUInt8(8);
  if (byteCount !== expectBytes) return `byte count ${byteCount}, expected ${expectBytes} for ${p.count} value(s)`;
  if (len !== 3 + byteCount) return `${len - 3} data byte(s) for a byte count of ${byteCount} (frame too short or too long)`;
  return null;
}

function connectError(address: string, err: NodeJS.ErrnoException | null): ConsoleError {
  const code = err?.code;
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused (nothing listens on that port, or a firewall rejects it)'
      : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
        ? 'host unreachable (check cabling, IP address and routes)'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'host name not found'
          : code === 'ECONNRESET'
            ? 'connection reset'
            : (err?.message ?? 'connection closed');
  return new ConsoleError('MODBUS_CONNECT', `cannot connect to ${address}: ${why}${code ? ` (${code})` : ''}`, { cause: err ?? undefined });
}
