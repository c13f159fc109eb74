/**
 * The RTU request parser of a simulated slave on a shared (multi-drop) line, where it hears
 * every frame: the master's requests to other units, and the other slaves' answers.
 *
 * - A frame is taken when its bytes check: a request (function 1–6, 15, 16) or an answer
 *   (data by byte count, a write echo, an exception) whose CRC-16 matches. A request for one
 *   of this line's units is served at once; every other whole frame is ignored as it passes.
 * - Bytes that make no frame are kept until the line falls silent for 3.5 character times
 *   (1.75 ms above 19200 baud, Modbus over Serial Line §2.5.1.1), then dropped: the next byte
 *   after silence starts a new frame. A foreign answer shorter than a request is thus gone
 *   before the master's next request arrives.
 * - Timers are late on a busy machine, so the silence may not be seen in time and the next
 *   request can arrive behind unframed bytes: the parser then looks for a whole request
 *   further on rather than dropping the lot, so a real request is never lost to what came
 *   before it. A request for one of our units that is still arriving is kept past the silence
 *   (a USB adapter delivers a frame in bursts) for a grace period before it is dropped.
 */
import { performance } from 'node:perf_hooks';
import { crc16, rtuFrame } from '../src-main/modbus/framing';
import type { Receiver, ServeRequest, Sink } from './line-protocol';

export interface RtuReceiverOptions {
  /** Whether `unitId` is a unit this line serves. */
  serves: (unitId: number) => boolean;
  /** Silence that ends a frame, ms (3.5 characters at the line's baud rate). */
  gapMs: number;
  /** How long a partial request for our unit may wait for the rest, ms (default 50). */
  graceMs?: number;
  now?: () => number;
}

/** Unframed bytes kept at most; older ones are dropped (a frame is at most 256 bytes). */
const MAX_PENDING = 512;

/** 3.5 characters of 11 bits at `baudRate`, fixed at 1.75 ms above 19200 baud. */
export function rtuGapMs(baudRate: number): number {
  return baudRate > 19200 ? 1.75 : (3.5 * 11 * 1000) / baudRate;
}

/** Length of a request frame starting at `at`: null until known, -1 when it cannot be one. */
function requestLength(buf: Buffer, at: number): number | null {
  if (buf.length - at < 2) return null;
  const fc = buf[at + 1]!;
  if (fc >= 1 && fc <= 6) return 8;
  if (fc === 15 || fc === 16) return buf.length - at < 7 ? null : 9 + buf[at + 6]!;
  return -1;
}

/** Length of an answer frame starting at `at`: null until known, -1 when it cannot be one. */
function answerLength(buf: Buffer, at: number): number | null {
  if (buf.length - at < 2) return null;
  const fc = buf[at + 1]!;
  if (fc >= 1 && fc <= 4) return buf.length - at < 3 ? null : 5 + buf[at + 2]!;
  if (fc === 5 || fc === 6 || fc === 15 || fc === 16) return 8;
  if (fc >= 0x81 && fc <= 0x90) return 5;
  return -1;
}

const crcOk = (buf: Buffer, at: number, len: number): boolean =>
  at + len <= buf.length && crc16(buf.subarray(at, at + len - 2)) === buf.readUInt16LE(at + len - 2);

/** A whole, checked frame at `at`: its length and whether it is a request; null when there is none (yet). */
function frameAt(buf: Buffer, at: number): { len: number; request: boolean } | null {
  const req = requestLength(buf, at);
  if (req !== null && req > 0 && crcOk(buf, at, req)) return { len: req, request: true };
  const ans = answerLength(buf, at);
  if (ans !== null && ans > 0 && crcOk(buf, at, ans)) return { len: ans, request: false };
  return null;
}

/** An RTU request parser for one serial port or TCP stream of a shared line (rules at the top of this file). */
export function rtuReceiver(serve: ServeRequest, sink: Sink, opts: RtuReceiverOptions): Receiver {
  const now = opts.now ?? (() => performance.now());
  const graceMs = Math.max(opts.graceMs ?? 50, opts.gapMs);
  let buf: Buffer = Buffer.alloc(0);
  let lastRx = 0;
  let timer: NodeJS.Timeout | null = null;
  const frame = (unit: number, answer: Buffer) => rtuFrame(unit, answer);

  /** True while the head of the buffer may still become a request for one of our units. */
  const ownPartial = (): boolean => {
    if (buf.length === 0 || !opts.serves(buf[0]!)) return false;
    const len = requestLength(buf, 0);
    return len === null || (len > 0 && buf.length < len);
  };

  const take = (): void => {
    // Each pass consumes at least one byte or stops: bounded by the bytes received.
    while (buf.length >= 4) {
      const head = frameAt(buf, 0);
      if (head) {
        const f = buf.subarray(0, head.len);
        buf = buf.subarray(head.len);
        if (head.request && opts.serves(f[0]!)) serve(f[0]!, Buffer.from(f.subarray(1, head.len - 2)), sink, frame);
        continue;
      }
      if (ownPartial()) return;
      // Unframed bytes in front (a foreign frame cut short, noise, a silence not seen in time):
      // a request further on still counts.
      let next = -1;
      for (let at = 1; at + 4 <= buf.length && next < 0; at++) {
        const len = requestLength(buf, at);
        if (len !== null && len > 0 && crcOk(buf, at, len)) next = at;
      }
      if (next < 0) break;
      buf = buf.subarray(next);
    }
    if (buf.length > MAX_PENDING) buf = buf.subarray(buf.length - MAX_PENDING / 2);
  };

  const onQuiet = (): void => {
    timer = null;
    if (buf.length === 0) return;
    const quiet = now() - lastRx;
    const limit = ownPartial() ? graceMs : opts.gapMs;
    if (quiet >= limit) {
      buf = Buffer.alloc(0);
      return;
    }
    timer = setTimeout(onQuiet, Math.max(1, Math.ceil(limit - quiet)));
  };

  return {
    feed(chunk) {
      lastRx = now();
      buf = buf.length ? Buffer.concat([buf, chunk]) : Buffer.from(chunk);
      take();
      if (buf.length > 0 && !timer) timer = setTimeout(onQuiet, Math.max(1, Math.ceil(opts.gapMs)));
    },
    close() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
