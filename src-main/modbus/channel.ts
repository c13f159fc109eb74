/**
 * What a line needs of a protocol channel (Modbus TCP or RTU): open on demand, frame one request
 * at a time, check the answer, and recover its own way after a failure (TCP drops and reconnects,
 * RTU discards input until the line is quiet). The line around it owns the queue, the pacing and
 * the timeout, so these rules are the same for every transport.
 */
import type { ModbusRequest } from './framing';

export type ChannelState = 'connecting' | 'online' | 'offline' | 'closed';

/** One request to one unit, as the line hands it to its channel. */
export interface Exchange extends ModbusRequest {
  unitId: number;
}

/** A channel's answer: the checked data bytes of the answer PDU (after byte count, or the echo). */
export type ExchangeResult = Buffer;

export interface Channel {
  /** For messages: `host:port` or the serial device path. */
  readonly address: string;
  readonly state: ChannelState;
  /** Silent time the medium itself needs between frames (3.5 characters on RTU), ms. */
  readonly minGapMs: number;
  /** When the last byte went out or came in (the line's clock). */
  lastActivity(): number;
  /** Time the request and its expected answer spend on the wire, ms (0 on TCP). */
  wireTimeMs(x: Exchange): number;
  /** Connects or opens the port if needed; rejects with MODBUS_CONNECT or MODBUS_CLOSED. */
  open(timeoutMs: number): Promise<void>;
  /** Whatever must happen before the next request may go out (RTU: discard input until quiet). */
  prepare(x: Exchange, capMs: number): Promise<void>;
  /** Sends `x`; resolves with the checked answer data, rejects with a specific ConsoleError. */
  exchange(x: Exchange): Promise<ExchangeResult>;
  /** The line gave up waiting: reject the pending exchange and recover. */
  expire(timeoutMs: number): void;
  /** Fails what is pending and closes for good; resolves once no handle is left. */
  close(): Promise<void>;
}

/** Cancellable waits: `cancelAll` resolves every pending wait at once, so a close never waits on a timer. */
export class Sleeper {
  private readonly waits = new Map<NodeJS.Timeout, () => void>();

  /** Resolves after `ms` (or at once when cancelled). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(
        () => {
          this.waits.delete(t);
          resolve();
        },
        Math.max(0, ms),
      );
      this.waits.set(t, resolve);
    });
  }

  cancelAll(): void {
    for (const [t, resolve] of this.waits) {
      clearTimeout(t);
      resolve();
    }
    this.waits.clear();
  }
}
