/**
 * Modbus framing shared by every transport, pure and without I/O: request PDUs, the checks every
 * answer must pass (unit, function, byte count, write echo, exceptions), CRC-16 and RTU frames.
 *
 * The checks are ours rather than a library's because each failure has to become a specific,
 * readable error, and because RTU has no transaction id: the only defence against taking a
 * stale or foreign frame for the awaited answer is to check everything it carries.
 */
import { ConsoleError } from '../core/errors';
import type { ModbusWriteRequest } from '../core/types';
import type { PointFunction } from '../../src-preload/contract';

export const FUNCTION_CODE: Record<PointFunction, 1 | 2 | 3 | 4> = { coil: 1, discrete: 2, holding: 3, input: 4 };

const WHAT: Record<PointFunction, [string, string]> = {
  coil: ['coil', 'coils'],
  discrete: ['discrete input', 'discrete inputs'],
  holding: ['holding register', 'holding registers'],
  input: ['input register', 'input registers'],
};

/** Most values one read may ask for (Modbus Application Protocol §6.1–6.4). */
export const MAX_READ: Record<PointFunction, number> = { coil: 2000, discrete: 2000, holding: 125, input: 125 };

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

/** "input registers 0–14", "coil 3": what a request covers, for messages. */
export function describeRead(fn: PointFunction, start: number, count: number): string {
  const [one, many] = WHAT[fn];
  return count === 1 ? `${one} ${start}` : `${many} ${start}–${start + count - 1}`;
}

/** How the answer to a request must look. */
export type Expectation = { kind: 'read'; fc: number; count: number; byteCount: number } | { kind: 'echo'; fc: number; echo: Buffer };

/** A request ready for a line: its PDU, what the answer must look like, and words for messages. */
export interface ModbusRequest {
  pdu: Buffer;
  expect: Expectation;
  /** "reading input registers 0–2", "writing holding register 7". */
  what: string;
}

/** A read request (FC1–4); throws BAD_REQUEST for a range no device could answer. */
export function readRequest(fn: PointFunction, start: number, count: number): ModbusRequest {
  if (!Number.isInteger(count) || count < 1 || count > MAX_READ[fn] || !Number.isInteger(start) || start < 0 || start + count > 0x10000) {
    throw new ConsoleError('BAD_REQUEST', `cannot read ${count} ${WHAT[fn][1]} from address ${start} in one request`);
  }
  const fc = FUNCTION_CODE[fn];
  const pdu = Buffer.alloc(5);
  pdu[0] = fc;
  pdu.writeUInt16BE(start, 1);
  pdu.writeUInt16BE(count, 3);
  const byteCount = fc <= 2 ? Math.ceil(count / 8) : count * 2;
  return { pdu, expect: { kind: 'read', fc, count, byteCount }, what: `reading ${describeRead(fn, start, count)}` };
}

function badWrite(message: string): ConsoleError {
  return new ConsoleError('BAD_REQUEST', `invalid write: ${message}`);
}

/** A write request (FC5/6/15/16); throws BAD_REQUEST when the request does not fit its function code. */
export function writeRequest(req: ModbusWriteRequest): ModbusRequest {
  const { fc, address, values } = req;
  const coil = req.function === 'coil';
  if (coil !== (fc === 5 || fc === 15) || (!coil && fc !== 6 && fc !== 16)) {
    throw badWrite(`function code ${String(fc)} does not write ${req.function === 'coil' ? 'coils' : 'holding registers'}`);
  }
  const max = fc === 15 ? 1968 : fc === 16 ? 123 : 1;
  if (!Array.isArray(values) || values.length < 1 || values.length > max) {
    throw badWrite(
      `FC${fc} carries ${max === 1 ? 'exactly one value' : `1–${max} values`}, not ${Array.isArray(values) ? values.length : 'none'}`,
    );
  }
  if (!Number.isInteger(address) || address < 0 || address + values.length > 0x10000) {
    throw badWrite(`address ${address} (+${values.length}) is outside 0–65535`);
  }
  for (const v of values) {
    const ok = coil ? v === 0 || v === 1 : Number.isInteger(v) && v >= 0 && v <= 0xffff;
    if (!ok) throw badWrite(`${String(v)} is not ${coil ? 'a coil value (0 or 1)' : 'a 16-bit word (0–65535)'}`);
  }
  let pdu: Buffer;
  if (fc === 5 || fc === 6) {
    pdu = Buffer.alloc(5);
    pdu.writeUInt16BE(fc === 5 ? (values[0] === 1 ? 0xff00 : 0) : values[0]!, 3);
  } else if (fc === 15) {
    const bytes = Math.ceil(values.length / 8);
    pdu = Buffer.alloc(6 + bytes);
    pdu.writeUInt16BE(values.length, 3);
    pdu[5] = bytes;
    values.forEach((v, i) => {
      if (v === 1) pdu[6 + (i >> 3)]! |= 1 << (i & 7);
    });
  } else {
    pdu = Buffer.alloc(6 + values.length * 2);
    pdu.writeUInt16BE(values.length, 3);
    pdu[5] = values.length * 2;
    values.forEach((v, i) => pdu.writeUInt16BE(v, 6 + i * 2));
  }
  pdu[0] = fc;
  pdu.writeUInt16BE(address, 1);
  // FC5/6 echo the whole request; FC15/16 echo address and quantity.
  const echo = Buffer.from(pdu.subarray(1, 5));
  return { pdu, expect: { kind: 'echo', fc, echo }, what: `writing ${describeRead(req.function, address, values.length)}` };
}

/** Length of the complete answer PDU (function code included) the expectation describes. */
export function expectedPduLength(exp: Expectation): number {
  return exp.kind === 'read' ? 2 + exp.byteCount : 5;
}

/** What a well-framed answer PDU says, judged against the request. */
export type AnswerCheck = { ok: true; data: Buffer } | { ok: false; exception: number } | { ok: false; problem: string };

/** Checks unit, function, exception, byte count or echo of one complete answer PDU (function code first). */
export function checkAnswer(exp: Expectation, unitWanted: number, unitGot: number, pdu: Buffer): AnswerCheck {
  if (unitGot !== unitWanted) return { ok: false, problem: `answer from unit ${unitGot}, expected unit ${unitWanted}` };
  const fc = pdu[0] ?? -1;
  if (fc === (exp.fc | 0x80)) {
    if (pdu.length !== 2) return { ok: false, problem: `exception frame of ${pdu.length + 1} bytes, expected 3` };
    return { ok: false, exception: pdu[1]! };
  }
  if (fc !== exp.fc) return { ok: false, problem: `answer for function ${fc}, expected ${exp.fc}` };
  if (exp.kind === 'echo') {
    const echo = pdu.subarray(1);
    if (echo.length !== 4) return { ok: false, problem: `write answer of ${echo.length} data byte(s), expected 4` };
    if (!echo.equals(exp.echo)) return { ok: false, problem: `write answer ${hex(echo)} does not echo the request (${hex(exp.echo)})` };
    return { ok: true, data: Buffer.from(echo) };
  }
  const byteCount = pdu[1] ?? -1;
  if (byteCount !== exp.byteCount)
    return { ok: false, problem: `byte count ${byteCount}, expected ${exp.byteCount} for ${exp.count} value(s)` };
  if (pdu.length !== 2 + byteCount) {
    return { ok: false, problem: `${pdu.length - 2} data byte(s) for a byte count of ${byteCount} (frame too short or too long)` };
  }
  return { ok: true, data: Buffer.from(pdu.subarray(2)) };
}

/** The values of a checked read answer: bits as 0/1 (LSB first) or 16-bit words. */
export function answerValues(exp: Expectation, data: Buffer): number[] {
  if (exp.kind !== 'read') return [];
  const out: number[] = [];
  if (exp.fc <= 2) {
    for (let i = 0; i < exp.count; i++) out.push(((data[i >> 3] ?? 0) >> (i & 7)) & 1);
  } else {
    for (let i = 0; i < exp.count; i++) out.push(data.readUInt16BE(i * 2));
  }
  return out;
}

function hex(b: Buffer): string {
  return b.toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

// ---------------------------------------------------------------------------------------------
// RTU

const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

/** CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first. */
export function crc16(buf: Uint8Array): number {
  let crc = 0xffff;
  for (const b of buf) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ b) & 0xff]!;
  return crc;
}

/** An RTU ADU: unit id, PDU, CRC (low byte first). */
export function rtuFrame(unitId: number, pdu: Buffer): Buffer {
  const f = Buffer.alloc(pdu.length + 3);
  f[0] = unitId;
  pdu.copy(f, 1);
  f.writeUInt16LE(crc16(f.subarray(0, f.length - 2)), f.length - 2);
  return f;
}

/** Bytes of the RTU frame the answer to `exp` takes when all goes well. */
export function rtuAnswerLength(exp: Expectation): number {
  return expectedPduLength(exp) + 3;
}

/** Longest RTU frame (Modbus over Serial Line §2.5.1). */
export const RTU_MAX_FRAME = 256;

/** The length a (partial) answer frame announces by its own function code and byte count; null if not yet known. */
function ownLength(buf: Buffer): number | 'unknown' | null {
  if (buf.length < 2) return null;
  const fc = buf[1]!;
  if (fc & 0x80) return 5;
  if (fc >= 1 && fc <= 4) return buf.length < 3 ? null : 5 + buf[2]!;
  if (fc === 5 || fc === 6 || fc === 15 || fc === 16) return 8;
  return 'unknown';
}

/** The verdict on the bytes received so far for one RTU request. */
export type RtuVerdict =
  | { status: 'incomplete' }
  | { status: 'ok'; data: Buffer; extra: number }
  | { status: 'exception'; exception: number; extra: number }
  /** `extra`: bytes after the length the frame announced (0: it ended where it said it would). */
  | { status: 'crc'; detail: string; extra: number }
  | { status: 'malformed'; detail: string };

function crcOk(frame: Buffer): boolean {
  return frame.length >= 4 && crc16(frame.subarray(0, frame.length - 2)) === frame.readUInt16LE(frame.length - 2);
}

/**
 * Judges the bytes received for one RTU request. A frame counts as complete when the length its
 * own header announces has arrived, or when the line fell quiet (`quiet`): the checks then run on
 * what is there. CRC first, so that noise is reported as noise rather than as a wrong field.
 */
export function judgeRtuAnswer(exp: Expectation, unitId: number, buf: Buffer, quiet: boolean): RtuVerdict {
  if (buf.length > RTU_MAX_FRAME)
    return { status: 'malformed', detail: `${buf.length} bytes without a frame end (an RTU frame has at most ${RTU_MAX_FRAME})` };
  const own = ownLength(buf);
  if (typeof own === 'number' && buf.length >= own) {
    const frame = buf.subarray(0, own);
    if (!crcOk(frame)) {
      const got = frame.readUInt16LE(own - 2);
      const want = crc16(frame.subarray(0, own - 2));
      return { status: 'crc', detail: `bad CRC (received ${fmt16(got)}, computed ${fmt16(want)})`, extra: buf.length - own };
    }
    const check = checkAnswer(exp, unitId, frame[0]!, frame.subarray(1, own - 2));
    const extra = buf.length - own;
    if (check.ok) return { status: 'ok', data: check.data, extra };
    if ('exception' in check) return { status: 'exception', exception: check.exception, extra };
    return { status: 'malformed', detail: check.problem };
  }
  if (!quiet || buf.length === 0) return { status: 'incomplete' };
  if (own === 'unknown') {
    // A complete frame of a function we never send, or noise: the CRC tells which.
    if (crcOk(buf)) {
      const check = checkAnswer(exp, unitId, buf[0]!, buf.subarray(1, buf.length - 2));
      if (!check.ok && 'problem' in check) return { status: 'malformed', detail: check.problem };
    }
    return { status: 'malformed', detail: `${buf.length} byte(s) that are not a Modbus RTU answer (function ${buf[1]})` };
  }
  const want = own ?? rtuAnswerLength(exp);
  let detail = `short frame: ${buf.length} of ${want} byte(s) before the line fell quiet`;
  if (buf.length >= 3 && exp.kind === 'read' && buf[1] === exp.fc && buf[2] !== exp.byteCount) {
    detail += ` (byte count ${buf[2]}, expected ${exp.byteCount} for ${exp.count} value(s))`;
  }
  return { status: 'malformed', detail };
}

function fmt16(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(4, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Where a request went, for messages: the line's address and the unit. */
export interface Target {
  address: string;
  unitId: number;
}

/** The ConsoleError for an exception answer: gateway exceptions (10, 11) mean the unit is unreachable. */
export function exceptionError(t: Target, what: string, code: number): ConsoleError {
  if (code === 10 || code === 11) {
    return new ConsoleError(
      'MODBUS_GATEWAY',
      `${exceptionText(code)} (exception ${code}) for unit ${t.unitId} behind ${t.address}, ${what}`,
    );
  }
  return new ConsoleError('MODBUS_EXCEPTION', `${exceptionText(code)} (exception ${code}) ${what}`);
}

/** The ConsoleError for an answer that does not fit the request. */
export function malformedError(t: Target, what: string, detail: string): ConsoleError {
  return new ConsoleError('MODBUS_MALFORMED', `malformed answer from ${t.address} unit ${t.unitId} ${what}: ${detail}`);
}

/** The ConsoleError for an RTU answer with a bad CRC. */
export function crcError(t: Target, what: string, detail: string): ConsoleError {
  return new ConsoleError('MODBUS_CRC', `${detail} in the answer from ${t.address} unit ${t.unitId} ${what}`);
}

/** The ConsoleError for a request that got no answer in time. */
export function timeoutError(t: Target, timeoutMs: number): ConsoleError {
  return new ConsoleError('MODBUS_TIMEOUT', `no answer from ${t.address} unit ${t.unitId} within ${timeoutMs} ms`);
}
