/** Modbus framing: CRC-16 against published vectors, request PDUs, and every malformed RTU answer. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConsoleError } from '../../src-main/core/errors';
import {
  answerValues,
  checkAnswer,
  crc16,
  exceptionError,
  exceptionText,
  judgeRtuAnswer,
  readRequest,
  rtuAnswerLength,
  rtuFrame,
  writeRequest,
} from '../../src-main/modbus/framing';
import type { Exchange } from '../../src-main/modbus/channel';
import { RtuChannel } from '../../src-main/modbus/rtu';
import type { ByteStream } from '../../src-main/modbus/streams';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const withCrc = (s: string) => {
  const b = hex(s);
  const out = Buffer.alloc(b.length + 2);
  b.copy(out);
  out.writeUInt16LE(crc16(b), b.length);
  return out;
};

describe('CRC-16/MODBUS', () => {
  it.each([
    // Read 10 holding registers of unit 1: the vector the brief names.
    ['01 03 00 00 00 0A', 'C5 CD'],
    // Modbus over Serial Line spec / Simply Modbus example: unit 17 reads 3 registers from 107.
    ['11 03 00 6B 00 03', '76 87'],
    // A write single coil request of unit 1 (coil 172 ON), a widely quoted example.
    ['01 05 00 AC FF 00', '4C 1B'],
  ])('%s → %s (low byte first)', (frame, crc) => {
    const c = crc16(hex(frame));
    expect(Buffer.from([c & 0xff, c >> 8]).toString('hex')).toBe(hex(crc).toString('hex'));
  });

  it('has the catalogue check value 0x4B37 for "123456789"', () => {
    expect(crc16(Buffer.from('123456789', 'ascii'))).toBe(0x4b37);
  });

  it('of an empty buffer is the initial value, and a frame with its CRC checks to 0', () => {
    expect(crc16(Buffer.alloc(0))).toBe(0xffff);
    expect(crc16(withCrc('01 03 00 00 00 0A'))).toBe(0);
  });

  it('rtuFrame appends it to unit id and PDU', () => {
    expect(rtuFrame(1, readRequest('holding', 0, 10).pdu).toString('hex')).toBe('0103' + '0000000a' + 'c5cd');
  });
});

describe('request PDUs', () => {
  it('reads: function codes, range, expected byte count', () => {
    expect(readRequest('coil', 3, 10)).toMatchObject({
      pdu: hex('01 0003 000A'),
      expect: { kind: 'read', fc: 1, count: 10, byteCount: 2 },
    });
    expect(readRequest('discrete', 0, 8).expect).toMatchObject({ fc: 2, byteCount: 1 });
    expect(readRequest('input', 0, 3)).toMatchObject({ expect: { fc: 4, byteCount: 6 }, what: 'reading input registers 0–2' });
    expect(readRequest('holding', 500, 1).what).toBe('reading holding register 500');
    for (const [fn, start, count] of [
      ['holding', 0, 126],
      ['input', 0, 0],
      ['coil', 0, 2001],
      ['holding', 65535, 2],
      ['input', -1, 1],
    ] as const) {
      expect(() => readRequest(fn, start, count)).toThrow(ConsoleError);
    }
  });

  it('writes: FC5 on/off, FC6, FC15 bit packing, FC16, and what each answer must echo', () => {
    expect(writeRequest({ function: 'coil', address: 172, values: [1], fc: 5 }).pdu).toEqual(hex('05 00AC FF00'));
    expect(writeRequest({ function: 'coil', address: 172, values: [0], fc: 5 }).pdu).toEqual(hex('05 00AC 0000'));
    expect(writeRequest({ function: 'holding', address: 1, values: [0x0003], fc: 6 })).toMatchObject({
      pdu: hex('06 0001 0003'),
      what: 'writing holding register 1',
    });
    const fc15 = writeRequest({ function: 'coil', address: 19, values: [1, 0, 1, 1, 0, 0, 1, 1, 1, 0], fc: 15 });
    // The spec's example: coils 20–29 = CD 01.
    expect(fc15.pdu).toEqual(hex('0F 0013 000A 02 CD 01'));
    expect(fc15.expect).toEqual({ kind: 'echo', fc: 15, echo: hex('0013 000A') });
    const fc16 = writeRequest({ function: 'holding', address: 1, values: [0x000a, 0x0102], fc: 16 });
    expect(fc16.pdu).toEqual(hex('10 0001 0002 04 000A 0102'));
    expect(fc16.what).toBe('writing holding registers 1–2');
  });

  it.each([
    [{ function: 'coil', address: 0, values: [1], fc: 6 }, /does not write coils/],
    [{ function: 'holding', address: 0, values: [1], fc: 5 }, /does not write holding registers/],
    [{ function: 'holding', address: 0, values: [1, 2], fc: 6 }, /exactly one value/],
    [{ function: 'holding', address: 0, values: [], fc: 16 }, /1–123 values/],
    [{ function: 'holding', address: 0, values: Array(124).fill(0), fc: 16 }, /1–123 values/],
    [{ function: 'holding', address: 0, values: [70000], fc: 16 }, /not a 16-bit word/],
    [{ function: 'holding', address: 0, values: [1.5], fc: 6 }, /not a 16-bit word/],
    [{ function: 'coil', address: 0, values: [2], fc: 15 }, /not a coil value/],
    [{ function: 'holding', address: 65535, values: [1, 2], fc: 16 }, /outside 0–65535/],
  ] as const)('rejects %j', (req, message) => {
    const run = () => writeRequest({ ...req, values: [...req.values] });
    expect(run).toThrow(message);
    try {
      run();
    } catch (err) {
      expect((err as ConsoleError).code).toBe('BAD_REQUEST');
    }
  });
});

describe('answer checks (shared by TCP and RTU)', () => {
  const read = readRequest('input', 0, 3).expect;
  it('accepts a right answer and decodes registers and bits', () => {
    const r = checkAnswer(read, 1, 1, hex('04 06 0001 0002 FFFF'));
    expect(r).toEqual({ ok: true, data: hex('0001 0002 FFFF') });
    if (r.ok) expect(answerValues(read, r.data)).toEqual([1, 2, 0xffff]);
    const bits = readRequest('coil', 0, 10).expect;
    expect(answerValues(bits, hex('CD 01'))).toEqual([1, 0, 1, 1, 0, 0, 1, 1, 1, 0]);
  });

  it.each([
    ['wrong unit', 2, '04 06 0001 0002 FFFF', 'answer from unit 2, expected unit 1'],
    ['wrong function', 1, '03 06 0001 0002 FFFF', 'answer for function 3, expected 4'],
    ['byte count mismatch', 1, '04 08 0001 0002 FFFF 0000', 'byte count 8, expected 6 for 3 value(s)'],
    ['data shorter than the byte count', 1, '04 06 0001 00', '3 data byte(s) for a byte count of 6 (frame too short or too long)'],
    ['long exception frame', 1, '84 02 00', 'exception frame of 4 bytes, expected 3'],
  ])('%s', (_name, unit, pdu, problem) => {
    expect(checkAnswer(read, 1, unit, hex(pdu))).toEqual({ ok: false, problem });
  });

  it('reports exceptions 1–11 with their text; 10 and 11 mean the gateway cannot reach the unit', () => {
    expect(checkAnswer(read, 1, 1, hex('84 02'))).toEqual({ ok: false, exception: 2 });
    const t = { address: '10.0.0.5:502', unitId: 7 };
    for (const code of [1, 2, 3, 4, 5, 6, 7, 8, 10, 11]) {
      expect(exceptionText(code)).not.toBe('unknown exception');
      const err = exceptionError(t, 'reading input registers 0–2', code);
      expect(err.code).toBe(code >= 10 ? 'MODBUS_GATEWAY' : 'MODBUS_EXCEPTION');
      expect(err.message).toContain(`(exception ${code})`);
    }
    expect(exceptionError(t, 'reading input registers 0–2', 11).message).toBe(
      'gateway target device failed to respond (exception 11) for unit 7 behind 10.0.0.5:502, reading input registers 0–2',
    );
    expect(exceptionText(9)).toBe('unknown exception');
  });

  it('checks the echo of a write', () => {
    const w = writeRequest({ function: 'holding', address: 1, values: [3], fc: 6 }).expect;
    expect(checkAnswer(w, 1, 1, hex('06 0001 0003')).ok).toBe(true);
    expect(checkAnswer(w, 1, 1, hex('06 0001 0004'))).toEqual({
      ok: false,
      problem: 'write answer 00 01 00 04 does not echo the request (00 01 00 03)',
    });
    expect(checkAnswer(w, 1, 1, hex('06 0001 00'))).toEqual({ ok: false, problem: 'write answer of 3 data byte(s), expected 4' });
  });
});

describe('RTU answer framing', () => {
  const exp = readRequest('input', 0, 3).expect;
  const good = withCrc('01 04 06 0001 0002 FFFF');

  it('a complete, right frame; its length is known from the request', () => {
    expect(rtuAnswerLength(exp)).toBe(good.length);
    expect(judgeRtuAnswer(exp, 1, good, false)).toEqual({ status: 'ok', data: hex('0001 0002 FFFF'), extra: 0 });
  });

  it('waits while a frame is incomplete and the line is still busy, whatever the split', () => {
    for (let i = 0; i < good.length; i++) expect(judgeRtuAnswer(exp, 1, good.subarray(0, i), false)).toEqual({ status: 'incomplete' });
    expect(judgeRtuAnswer(exp, 1, Buffer.alloc(0), true)).toEqual({ status: 'incomplete' });
  });

  it('short frame: what came before the line fell quiet', () => {
    expect(judgeRtuAnswer(exp, 1, good.subarray(0, 6), true)).toEqual({
      status: 'malformed',
      detail: 'short frame: 6 of 11 byte(s) before the line fell quiet',
    });
    expect(judgeRtuAnswer(exp, 1, good.subarray(0, 1), true)).toEqual({
      status: 'malformed',
      detail: 'short frame: 1 of 11 byte(s) before the line fell quiet',
    });
    // Cut, and its byte count is wrong as well: both are said.
    expect(judgeRtuAnswer(exp, 1, hex('01 04 08 0001 0002'), true)).toEqual({
      status: 'malformed',
      detail: 'short frame: 7 of 13 byte(s) before the line fell quiet (byte count 8, expected 6 for 3 value(s))',
    });
  });

  it('bad CRC, checked before any field', () => {
    const bad = Buffer.from(good);
    bad[bad.length - 1]! ^= 0xff;
    const v = judgeRtuAnswer(exp, 1, bad, false);
    expect(v.status).toBe('crc');
    if (v.status === 'crc') expect(v.detail).toMatch(/^bad CRC \(received 0x[0-9A-F]{4}, computed 0x[0-9A-F]{4}\)$/);
    // A flipped data bit is caught the same way.
    const noisy = Buffer.from(good);
    noisy[4]! ^= 0x10;
    expect(judgeRtuAnswer(exp, 1, noisy, false).status).toBe('crc');
    // A wrong unit with a bad CRC is noise, not another unit.
    const foreign = withCrc('02 04 06 0001 0002 FFFF');
    foreign[0] = 2;
    foreign[foreign.length - 2]! ^= 1;
    expect(judgeRtuAnswer(exp, 1, foreign, false).status).toBe('crc');
  });

  it.each([
    ['wrong unit', '02 04 06 0001 0002 FFFF', 'answer from unit 2, expected unit 1'],
    ['wrong function', '01 03 06 0001 0002 FFFF', 'answer for function 3, expected 4'],
    ['byte count mismatch', '01 04 08 0001 0002 FFFF 0000', 'byte count 8, expected 6 for 3 value(s)'],
    ['exception for another function', '01 83 02', 'answer for function 131, expected 4'],
  ])('%s (valid CRC)', (_name, frame, detail) => {
    expect(judgeRtuAnswer(exp, 1, withCrc(frame), false)).toEqual({ status: 'malformed', detail });
  });

  it('exception frames: the code, with a CRC check', () => {
    expect(judgeRtuAnswer(exp, 1, withCrc('01 84 02'), false)).toEqual({ status: 'exception', exception: 2, extra: 0 });
    expect(judgeRtuAnswer(exp, 1, withCrc('01 84 0B'), false)).toEqual({ status: 'exception', exception: 11, extra: 0 });
    const bad = withCrc('01 84 02');
    bad[4]! ^= 1;
    expect(judgeRtuAnswer(exp, 1, bad, false).status).toBe('crc');
  });

  it('bytes after a complete frame are counted as extra (the line then resynchronises)', () => {
    expect(judgeRtuAnswer(exp, 1, Buffer.concat([good, hex('0102')]), false)).toMatchObject({ status: 'ok', extra: 2 });
  });

  it('noise of an unknown function, and endless input, are malformed', () => {
    expect(judgeRtuAnswer(exp, 1, hex('01 41 33 22 11'), false)).toEqual({ status: 'incomplete' });
    expect(judgeRtuAnswer(exp, 1, hex('01 41 33 22 11'), true)).toEqual({
      status: 'malformed',
      detail: '5 byte(s) that are not a Modbus RTU answer (function 65)',
    });
    // A well-formed frame of a function we never asked for.
    expect(judgeRtuAnswer(exp, 1, withCrc('01 41 33'), true)).toEqual({
      status: 'malformed',
      detail: 'answer for function 65, expected 4',
    });
    expect(judgeRtuAnswer(exp, 1, Buffer.alloc(300, 0x41), false)).toEqual({
      status: 'malformed',
      detail: '300 bytes without a frame end (an RTU frame has at most 256)',
    });
  });

  it('write answers: echo checked, length fixed at 8', () => {
    const w = writeRequest({ function: 'holding', address: 100, values: [1, 2], fc: 16 }).expect;
    expect(rtuAnswerLength(w)).toBe(8);
    expect(judgeRtuAnswer(w, 5, withCrc('05 10 0064 0002'), false)).toMatchObject({ status: 'ok' });
    expect(judgeRtuAnswer(w, 5, withCrc('05 10 0064 0003'), false)).toMatchObject({
      status: 'malformed',
      detail: expect.stringMatching(/does not echo/) as unknown,
    });
  });
});

describe('RTU channel resync after a spoiled answer', () => {
  /** A stream whose answers the test hands in. */
  class FakeStream implements ByteStream {
    readonly address = 'pty:test';
    isOpen = false;
    onData: (chunk: Buffer) => void = () => undefined;
    onClose: (err: NodeJS.ErrnoException | null) => void = () => undefined;
    async open(): Promise<void> {
      this.isOpen = true;
    }
    async write(): Promise<void> {}
    drop(): void {}
    async close(): Promise<void> {
      this.isOpen = false;
    }
  }

  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  /** Whether `prepare` is done after `ms` of quiet. */
  async function preparedWithin(ch: RtuChannel, x: Exchange, ms: number): Promise<boolean> {
    let done = false;
    void ch.prepare(x, 1000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(ms);
    return done;
  }

  it('a frame that ended at its announced length with a bad CRC needs no wait for quiet; a cut one does', async () => {
    const stream = new FakeStream();
    const ch = new RtuChannel(stream, { now: () => Date.now(), baudRate: 115200, bitsPerChar: 10, silenceMs: 20 });
    const x: Exchange = { ...readRequest('input', 0, 2), unitId: 1 };
    await ch.open(100);
    expect(await preparedWithin(ch, x, 25)).toBe(true);
    const good = withCrc('01 04 04 0001 0002');
    const spoiled = Buffer.from(good);
    spoiled[3]! ^= 0x10;
    const first = ch.exchange(x).catch((e: ConsoleError) => e.code);
    stream.onData(spoiled);
    expect(await first).toBe('MODBUS_CRC');
    expect(await preparedWithin(ch, x, 0)).toBe(true);
    // Cut short: judged only once the line fell quiet, and the next request waits for quiet again.
    const second = ch.exchange(x).catch((e: ConsoleError) => e.code);
    stream.onData(good.subarray(0, 5));
    await vi.advanceTimersByTimeAsync(25);
    expect(await second).toBe('MODBUS_MALFORMED');
    stream.onData(Buffer.from([0x55]));
    expect(await preparedWithin(ch, x, 5)).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    await ch.close();
  });
});
