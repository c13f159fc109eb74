/**
 * The protocol side of a simulated line (see rtu-server.ts): answering a request PDU from a
 * register bank, dispatching requests to the units on the line with their deaths and injected
 * faults, and the Modbus TCP request parser that feeds that dispatch from a byte stream (the RTU
 * one, for shared lines, is rtu-receiver.ts).
 */
import { randomInt } from 'node:crypto';
import type { PointFunction } from '../src-preload/contract';
import { ModbusException, type RegisterBank } from './register-bank';
import type { Simulator } from './simulator';

/** A deliberate misbehaviour for the next request(s) to a unit; `none` answers normally (to space faults out). */
export type UnitFault =
  | 'none'
  | 'silent'
  | 'late'
  | 'short'
  | 'bad-crc'
  | 'wrong-unit'
  | 'wrong-function'
  | 'bad-bytecount'
  | 'exception'
  | 'garbage'
  | 'close-mid-frame';

export interface SimUnit {
  readonly unitId: number;
  readonly model: string;
  readonly simulator: Simulator;
  readonly bank: RegisterBank;
  dead: boolean | 'exception';
  /** Requests addressed to this unit so far (dead or not). */
  requests: number;
  readonly faults: UnitFault[];
}

const FN: Record<number, PointFunction> = { 1: 'coil', 2: 'discrete', 3: 'holding', 4: 'input' };

/** The answer PDU of `bank` to the request PDU `pdu` (an exception PDU when refused). */
export function answerPdu(bank: RegisterBank, pdu: Buffer): Buffer {
  const fc = pdu[0] ?? 0;
  try {
    if (pdu.length < 5) throw new ModbusException(3, 'request too short');
    const addr = pdu.readUInt16BE(1);
    const qty = pdu.readUInt16BE(3);
    const fn = FN[fc];
    if (fn) {
      if (qty < 1 || qty > (fc <= 2 ? 2000 : 125)) throw new ModbusException(3, `quantity ${qty}`);
      const values = bank.read(fn, addr, qty);
      if (fc <= 2) {
        const out = Buffer.alloc(2 + Math.ceil(qty / 8));
        values.forEach((v, i) => {
          if (v) out[2 + (i >> 3)]! |= 1 << (i & 7);
        });
        out[0] = fc;
        out[1] = out.length - 2;
        return out;
      }
      const out = Buffer.alloc(2 + qty * 2);
      out[0] = fc;
      out[1] = qty * 2;
      values.forEach((v, i) => out.writeUInt16BE(v, 2 + i * 2));
      return out;
    }
    if (fc === 5) {
      if (qty !== 0xff00 && qty !== 0) throw new ModbusException(3, 'a coil is written as FF00 or 0000');
      bank.writeCoil(addr, qty === 0xff00);
    } else if (fc === 6) {
      bank.writeRegisters(addr, [qty]);
    } else if (fc === 15 || fc === 16) {
      const bytes = pdu[5] ?? -1;
      const want = fc === 15 ? Math.ceil(qty / 8) : qty * 2;
      if (qty < 1 || bytes !== want || pdu.length !== 6 + bytes) throw new ModbusException(3, 'byte count does not match the quantity');
      if (fc === 15) for (let i = 0; i < qty; i++) bank.writeCoil(addr + i, ((pdu[6 + (i >> 3)]! >> (i & 7)) & 1) === 1);
      else
        bank.writeRegisters(
          addr,
          Array.from({ length: qty }, (_, i) => pdu.readUInt16BE(6 + i * 2)),
        );
    } else {
      throw new ModbusException(1, `function ${fc}`);
    }
    return Buffer.from(pdu.subarray(0, 5));
  } catch (err) {
    const code = err instanceof ModbusException ? err.modbusErrorCode : 4;
    return Buffer.from([fc | 0x80, code]);
  }
}

/** Where a parser writes its answers: a serial port or one TCP connection. */
export interface Sink {
  write(b: Buffer): void;
  /** Writes `b`, then drops the connection (only TCP can). */
  writeAndClose(b: Buffer): void;
}

/** Wraps an answer PDU for `unit` in the line's framing. */
export type Framer = (unit: number, answer: Buffer) => Buffer;

/** Answers one request PDU for `unitId` through `sink`, framed by `frame`. */
export type ServeRequest = (unitId: number, pdu: Buffer, sink: Sink, frame: Framer) => void;

/** A request parser for one stream. */
export interface Receiver {
  feed(chunk: Buffer): void;
  close(): void;
}

export interface DispatchOptions {
  framing: 'rtu' | 'mbap';
  units: ReadonlyMap<number, SimUnit>;
  /** How late a `late` fault answers, ms. */
  lateMs: number;
  /** Runs `fn` after `ms`, on a timer the line clears when it stops. */
  later(ms: number, fn: () => void): void;
}

/** The request dispatch of a line: applies death and injected faults, answers from each unit's bank. */
export function createDispatch({ framing, units, lateMs, later }: DispatchOptions): ServeRequest {
  /** Answers one request PDU for `unitId` through `sink`, applying death and injected faults. */
  return function serve(unitId, pdu, sink, frame) {
    const unit = units.get(unitId);
    if (!unit) {
      // RTU: nobody at that address stays silent. A gateway says it got no answer.
      if (framing === 'mbap') sink.write(frame(unitId, Buffer.from([(pdu[0] ?? 0) | 0x80, 11])));
      return;
    }
    unit.requests++;
    if (unit.dead === 'exception' && framing === 'mbap') return sink.write(frame(unitId, Buffer.from([(pdu[0] ?? 0) | 0x80, 11])));
    if (unit.dead) return;
    const answer = answerPdu(unit.bank, pdu);
    const fault = unit.faults.shift();
    if (!fault || fault === 'none') return sink.write(frame(unitId, answer));
    const fc = answer[0]!;
    switch (fault) {
      case 'silent':
        return;
      case 'late':
        return later(lateMs, () => sink.write(frame(unitId, answer)));
      case 'short': {
        // Modbus TCP: a consistent header around cut data. RTU: the frame stops halfway.
        if (framing === 'mbap') return sink.write(frame(unitId, answer.subarray(0, 2 + Math.floor((answer.length - 2) / 2))));
        const full = frame(unitId, answer);
        return sink.write(full.subarray(0, Math.ceil(full.length / 2)));
      }
      case 'bad-crc': {
        if (framing === 'mbap') return sink.write(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0, 3, 1, 0x41, 0]));
        const f = frame(unitId, answer);
        f[f.length - 1]! ^= 0x5a;
        return sink.write(f);
      }
      case 'wrong-unit':
        return sink.write(frame((unitId % 247) + 1, answer));
      case 'wrong-function': {
        const a = Buffer.from(answer);
        a[0] = fc === 3 ? 4 : 3;
        return sink.write(frame(unitId, a));
      }
      case 'bad-bytecount': {
        // A consistent frame (valid CRC) whose byte count does not fit the request.
        const a = Buffer.concat([answer, Buffer.alloc(2)]);
        a[1] = (answer[1] ?? 0) + 2;
        return sink.write(frame(unitId, a));
      }
      case 'exception':
        return sink.write(frame(unitId, Buffer.from([(pdu[0] ?? 0) | 0x80, 4])));
      case 'garbage': {
        const junk = Buffer.alloc(5 + randomInt(12));
        for (let i = 0; i < junk.length; i++) junk[i] = randomInt(256);
        junk[1] = 0x41; // no function code we send, so it can never pass for a frame
        return sink.write(junk);
      }
      case 'close-mid-frame': {
        const full = frame(unitId, answer);
        return sink.writeAndClose(full.subarray(0, Math.ceil(full.length / 2)));
      }
    }
  };
}

/** A Modbus TCP request parser for one connection. */
export function mbapReceiver(serve: ServeRequest, sink: Sink): Receiver {
  let buf: Buffer = Buffer.alloc(0);
  return {
    feed(chunk) {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 7) {
        const len = buf.readUInt16BE(4);
        if (buf.readUInt16BE(2) !== 0 || len < 2 || len > 254) {
          buf = Buffer.alloc(0);
          break;
        }
        if (buf.length < 6 + len) break;
        const tid = buf.readUInt16BE(0);
        const unit = buf.readUInt8(6);
        const pdu = Buffer.from(buf.subarray(7, 6 + len));
        buf = buf.subarray(6 + len);
        serve(unit, pdu, sink, (u, answer) => {
          const head = Buffer.alloc(7);
          head.writeUInt16BE(tid, 0);
          head.writeUInt16BE(0, 2);
          head.writeUInt16BE(answer.length + 1, 4);
          head.writeUInt8(u, 6);
          return Buffer.concat([head, answer]);
        });
      }
    },
    close: () => undefined,
  };
}
