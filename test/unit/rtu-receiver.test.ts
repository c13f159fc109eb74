/** The agent's RTU request parser on a shared line: frames by CRC and silence, never loses a request to what came before. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { rtuGapMs, rtuReceiver } from '../../device-agent/rtu-receiver';
import { rtuFrame } from '../../src-main/modbus/framing';

const request = (unit: number, fc: number, addr: number, qty: number): Buffer => {
  const pdu = Buffer.alloc(5);
  pdu[0] = fc;
  pdu.writeUInt16BE(addr, 1);
  pdu.writeUInt16BE(qty, 3);
  return rtuFrame(unit, pdu);
};
const answer = (unit: number, words: number[]): Buffer =>
  rtuFrame(unit, Buffer.from([3, words.length * 2, ...words.flatMap((w) => [w >> 8, w & 0xff])]));

let clock = 0;
let served: string[];
const feedAll = (rx: ReturnType<typeof rtuReceiver>, ...chunks: Buffer[]): void => chunks.forEach((c) => rx.feed(c));

beforeEach(() => {
  vi.useFakeTimers();
  clock = 0;
  served = [];
});
afterEach(() => vi.useRealTimers());

function receiver(ours = [2]) {
  return rtuReceiver(
    (unit, pdu) => served.push(`${unit}:${pdu.toString('hex')}`),
    { write: () => undefined, writeAndClose: () => undefined },
    { serves: (u) => ours.includes(u), gapMs: 1.75, now: () => clock },
  );
}
const wait = (ms: number): void => {
  clock += ms;
  vi.advanceTimersByTime(Math.ceil(ms));
};

describe("the agent's RTU receiver on a shared line", () => {
  it('3.5 characters, 1.75 ms above 19200 baud', () => {
    expect(rtuGapMs(9600)).toBeCloseTo(4.01, 2);
    expect(rtuGapMs(19200)).toBeCloseTo(2.005, 3);
    expect(rtuGapMs(115200)).toBe(1.75);
  });

  it("serves a request that arrives right behind another slave's short answer, in the same chunk or the next", () => {
    const rx = receiver();
    const own = request(2, 3, 0, 2);
    // 7 bytes (one register), 5 bytes (an exception), 6 bytes (coils), 8 bytes (a write echo).
    const foreign = [answer(1, [0x1234]), rtuFrame(1, Buffer.from([0x83, 2])), rtuFrame(1, Buffer.from([1, 1, 5])), request(1, 6, 3, 7)];
    for (const f of foreign) {
      feedAll(rx, Buffer.concat([f, own]));
      feedAll(rx, f, own);
      feedAll(rx, f.subarray(0, 3), Buffer.concat([f.subarray(3), own.subarray(0, 2)]), own.subarray(2));
    }
    expect(served).toEqual(Array.from({ length: 12 }, () => `2:${own.subarray(1, 6).toString('hex')}`));
  });

  it('ignores requests to other units and frames with a bad CRC; finds a request behind noise', () => {
    const rx = receiver();
    const bad = request(2, 3, 0, 2);
    bad[7]! ^= 0xff;
    feedAll(rx, request(3, 3, 0, 2), bad, Buffer.from([0x02, 0x41, 0x99]), request(2, 4, 8, 1));
    expect(served).toEqual(['2:0400080001']);
  });

  it('serves the request after a foreign frame cut short, with or without the silence seen in time', () => {
    const rx = receiver();
    rx.feed(Buffer.from([0x05, 0x03, 0x02]));
    wait(2);
    rx.feed(request(2, 3, 1, 1));
    rx.feed(Buffer.from([0x05, 0x03, 0x02]));
    rx.feed(request(2, 3, 1, 1));
    expect(served).toEqual(['2:0300010001', '2:0300010001']);
  });

  it('keeps a request for its unit that arrives in bursts (a USB adapter) past the silence, within the grace period', () => {
    const rx = receiver();
    const own = request(2, 3, 0, 10);
    rx.feed(own.subarray(0, 3));
    wait(16);
    rx.feed(own.subarray(3));
    expect(served).toEqual(['2:030000000a']);
    rx.feed(own.subarray(0, 3));
    wait(60);
    rx.feed(own.subarray(3));
    expect(served).toHaveLength(1);
    rx.close();
  });
});
