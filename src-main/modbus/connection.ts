/**
 * One Modbus TCP connection to one device, with its own request queue and one timeout for every
 * request: a ModbusLine of type `tcp` under the interface the first poller had. Kept for callers
 * that want a single connection without a pool (tools, tests); pollers use lines from a LinePool.
 */
import type { PointFunction } from '../../src-preload/contract';
import type { ChannelState } from './channel';
import { ModbusLine } from './line';

export { describeRead, exceptionText } from './framing';

export type ConnectionState = ChannelState;

export interface ConnectionOptions {
  host: string;
  port: number;
  /** How long to wait for each answer (and for the TCP connection to be established). */
  timeoutMs: number;
  onStateChange?: (state: ConnectionState) => void;
}

/** A Modbus TCP client connection with a request queue; reconnects on demand before a request. */
export class ModbusTcpConnection {
  readonly address: string;
  private readonly line: ModbusLine;

  constructor(private readonly opts: ConnectionOptions) {
    this.line = new ModbusLine({ type: 'tcp', host: opts.host, port: opts.port }, { onState: opts.onStateChange });
    this.address = this.line.address;
  }

  get state(): ConnectionState {
    return this.line.state;
  }

  /** Reads `count` registers (or bits as 0/1) from `start`; queued behind earlier requests. */
  read(fn: PointFunction, start: number, count: number, unitId: number): Promise<number[]> {
    return this.line.read(unitId, fn, start, count, { timeoutMs: this.opts.timeoutMs });
  }

  /** Fails what is pending, closes the socket; resolves once the socket is fully closed. */
  close(): Promise<void> {
    return this.line.close();
  }
}
