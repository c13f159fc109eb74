import { describe, expect, it } from 'vitest';
import { loadProfile, packageRoot, parseProfile } from '../../src-main/config/load';
import type { PointDef, Profile } from '../../src-main/config/schema';
import { decode, registerCount } from '../../src-main/modbus/codec';
import { createRegisterBank, ModbusException, serviceVector, type RegisterBank } from '../../device-agent/register-bank';
import { createSimulator, type SimValue } from '../../device-agent/simulator';

const builtin = (model: string): Profile => loadProfile(`builtin:${model}`, packageRoot());
const point = (profile: Profile, id: string): PointDef => profile.points.find((p) => p.id === id)!;

/** The Modbus exception code `fn` throws, or 0 when it does not throw. */
function exceptionOf(fn: () => unknown): number {
  try {
    fn();
    return 0;
  } catch (err) {
    if (err instanceof ModbusException) return err.modbusErrorCode;
    throw err;
  }
}

function readPoint(bank: RegisterBank, p: PointDef): number[] {
  return bank.read(p.function, p.address, registerCount(p));
}

/** A profile with what the demo profiles lack: multi-register and bit points that are writable. */
const writableProfile = parseProfile(
  {
    model: 'wtest',
    title: 'Write test W-1',
    idealCycleTimeS: 5,
    points: [
      {
        id: 'flow-sp',
        name: 'Flow SP',
        function: 'holding',
        address: 10,
        type: 'float32',
        wordOrder: 'little',
        role: 'setpoint',
        writable: { min: 0, max: 50, maxStep: 5 },
      },
      {
        id: 'level-sp',
        name: 'Level SP',
        function: 'holding',
        address: 12,
        type: 'uint16',
        scale: 0.1,
        role: 'setpoint',
        writable: { min: 10, max: 90, maxStep: 5 },
      },
      { id: 'count', name: 'Count', function: 'holding', address: 13, type: 'uint32', role: 'goodCount' },
      { id: 'heater', name: 'Heater on', function: 'coil', address: 2, type: 'bool', writable: { min: 0, max: 1, maxStep: 1 } },
      { id: 'lamp', name: 'Lamp', function: 'coil', address: 3, type: 'bool' },
    ],
  },
  'wtest.json',
);

describe('register bank', () => {
  it.each(['im250', 'hp200', 'pk60'])('%s: every point reads back through codec.decode', (model) => {
    const profile = builtin(model);
    const bank = createRegisterBank(profile);
    for (const seed of [1, 2, 3]) {
      const values = createSimulator(profile, { seed, startMs: 0 }).values();
      bank.update(values);
      expect(bank.encodeErrors()).toEqual([]);
      for (const p of profile.points) {
        const got = decode(p, readPoint(bank, p));
        const want = values[p.id]!;
        if (typeof want === 'number') {
          // Integer types round to one step of the scale; float32 keeps ~7 digits.
          const tol = p.type === 'float32' ? Math.abs(want) * 1e-6 + 1e-6 : p.type === 'float64' ? 1e-9 : Math.abs(p.scale) / 2 + 1e-9;
          expect(Math.abs((got as number) - want), `${model}.${p.id}`).toBeLessThanOrEqual(tol);
        } else {
          expect(got, `${model}.${p.id}`).toEqual(want);
        }
      }
    }
  });

  it('lays words and bytes out as each point declares', () => {
    const im = builtin('im250');
    const bank = createRegisterBank(im);
    bank.update({ zone1: 123.456, zone2: 123.456, mould: 123.456, energy: 1.5, serial: 'AB' });
    // 123.456f = 0x42F6E979: ABCD, CDAB (little word order), BADC (little byte order).
    expect(readPoint(bank, point(im, 'zone1'))).toEqual([0x42f6, 0xe979]);
    expect(readPoint(bank, point(im, 'zone2'))).toEqual([0xe979, 0x42f6]);
    expect(readPoint(bank, point(im, 'mould'))).toEqual([0xf642, 0x79e9]);
    expect(readPoint(bank, point(im, 'energy'))).toEqual([0x3ff8, 0, 0, 0]);
    expect(readPoint(bank, point(im, 'serial'))).toEqual([0x4142, 0, 0, 0, 0, 0, 0, 0]);

    const hp = builtin('hp200');
    const hpBank = createRegisterBank(hp);
    hpBank.update({ good: 0x00010002, force: 123.456, stroke: -1.5 });
    expect(readPoint(hpBank, point(hp, 'good'))).toEqual([0x0002, 0x0001]);
    expect(readPoint(hpBank, point(hp, 'force'))).toEqual([0x79e9, 0xf642]);
    expect(readPoint(hpBank, point(hp, 'stroke'))).toEqual([0xffff, 0xff6a]);

    const pk = builtin('pk60');
    const pkBank = createRegisterBank(pk);
    pkBank.update({ batch: 'AB', 'film-low': true });
    expect(readPoint(pkBank, point(pk, 'batch'))[0]).toBe(0x4241);
    expect(pkBank.read('discrete', 3, 1)).toEqual([1]);
  });

  it('refuses reads of unmapped addresses with exception 2, and over-long reads with 3', () => {
    const im = createRegisterBank(builtin('im250'));
    expect(exceptionOf(() => im.read('input', 34, 1))).toBe(2); // past the last register (energy ends at 33)
    expect(exceptionOf(() => im.read('input', 30, 5))).toBe(2); // runs past the end
    expect(exceptionOf(() => im.read('input', 15, 5))).toBe(2); // only the gap between fault-code and serial
    expect(exceptionOf(() => im.read('holding', 0, 1))).toBe(2);
    expect(exceptionOf(() => im.read('discrete', 2, 1))).toBe(2);
    expect(exceptionOf(() => im.read('coil', 1, 1))).toBe(2);
    // The console's planner reads through short gaps: they read as 0.
    expect(im.read('input', 14, 7).slice(1, 6)).toEqual([0, 0, 0, 0, 0]);
    expect(im.read('input', 0, 34)).toHaveLength(34);

    const pk = createRegisterBank(builtin('pk60'));
    expect(exceptionOf(() => pk.read('input', 1, 1))).toBe(2);
    expect(exceptionOf(() => pk.read('coil', 0, 1))).toBe(2); // no coils at all
    expect(pk.read('input', 0, 3)).toHaveLength(3);

    const hp = createRegisterBank(builtin('hp200'));
    expect(exceptionOf(() => hp.read('holding', 0, 61))).toBe(3); // maxRegistersPerRead 60
    expect(exceptionOf(() => hp.read('holding', 0, 41))).toBe(0);
  });

  it('refuses writes to read-only, unmapped or out-of-limit points and delivers the others decoded', () => {
    const profile = builtin('im250');
    const writes: [string, SimValue][] = [];
    const bank = createRegisterBank(profile, (id, v) => void writes.push([id, v]));
    bank.update(createSimulator(profile, { seed: 1, startMs: 0 }).values());
    expect(exceptionOf(() => bank.writeRegisters(110, [0x4142]))).toBe(2); // recipe is read-only
    expect(exceptionOf(() => bank.writeRegisters(103, [1]))).toBe(2); // unmapped
    expect(exceptionOf(() => bank.writeRegisters(200, [1]))).toBe(2); // outside the table
    expect(exceptionOf(() => bank.writeCoil(1, false))).toBe(2); // no coil there (auto at 0 is the only one)
    expect(exceptionOf(() => bank.writeRegisters(100, [2500]))).toBe(3); // 250 °C > 240
    expect(exceptionOf(() => bank.writeRegisters(102, [200]))).toBe(3); // 200 bar < 300
    expect(exceptionOf(() => bank.writeRegisters(100, [2300, 2500]))).toBe(3); // one bad value refuses both
    expect(writes).toEqual([]);

    bank.writeRegisters(100, [2250]);
    bank.writeRegisters(101, [2100, 650]);
    expect(writes).toEqual([
      ['zone1-sp', 225],
      ['zone2-sp', 210],
      ['hold-sp', 650],
    ]);
    expect(bank.read('holding', 100, 3)).toEqual([2250, 2100, 650]);
    // Automatic mode is writable: a machine can be put to idle on purpose (a firmware update waits for that).
    bank.writeCoil(0, false);
    expect(writes.at(-1)).toEqual(['auto', false]);
  });

  it('writes multi-register points only whole, and coils one by one', () => {
    const writes: [string, SimValue][] = [];
    const bank = createRegisterBank(writableProfile, (id, v) => void writes.push([id, v]));
    const flow = point(writableProfile, 'flow-sp');
    const words = [0x0000, 0x41c8]; // 25.0 = 0x41C80000, little word order
    expect(exceptionOf(() => bank.writeRegisters(10, [0]))).toBe(2); // half a float32 (FC6)
    expect(exceptionOf(() => bank.writeRegisters(11, [0x41c8, 500]))).toBe(2); // starts mid-point
    expect(exceptionOf(() => bank.writeRegisters(12, [500, 0, 0]))).toBe(2); // count is read-only
    expect(exceptionOf(() => bank.writeRegisters(10, [0x0000, 0x7fc0]))).toBe(3); // NaN
    expect(exceptionOf(() => bank.writeCoil(3, true))).toBe(2); // lamp is read-only
    expect(writes).toEqual([]);
    bank.writeRegisters(10, [...words, 555]);
    bank.writeCoil(2, true);
    expect(writes).toEqual([
      ['flow-sp', 25],
      ['level-sp', 55.5],
      ['heater', true],
    ]);
    expect(readPoint(bank, flow)).toEqual(words);
    expect(bank.read('coil', 2, 1)).toEqual([1]);
  });

  it('turns a failing write handler into exception 4, or the code it throws', () => {
    const failing = createRegisterBank(writableProfile, () => {
      throw new Error('actuator stuck');
    });
    expect(exceptionOf(() => failing.writeRegisters(12, [500]))).toBe(4);
    expect(failing.read('holding', 12, 1)).toEqual([0]);
    const refusing = createRegisterBank(writableProfile, () => {
      throw new ModbusException(3, 'not now');
    });
    expect(exceptionOf(() => refusing.writeCoil(2, true))).toBe(3);
  });

  it('keeps the old registers of a value that cannot be encoded, and says which', () => {
    const profile = builtin('hp200');
    const bank = createRegisterBank(profile);
    bank.update({ 'force-sp': 1500 });
    bank.update({ 'force-sp': -5, 'oil-temp': 40 });
    expect(bank.encodeErrors()).toEqual(['force-sp']);
    expect(bank.read('holding', 40, 1)).toEqual([1500]);
  });

  it('serves the tables through a modbus-serial vector for its unit id only', () => {
    const profile = builtin('im250');
    const bank = createRegisterBank(profile);
    bank.update({ state: 1, good: 70_000, door: true });
    const v = serviceVector(bank, { unitId: 3 });
    const multi = v.getMultipleInputRegisters as (a: number, n: number, u: number) => number[];
    const single = v.getInputRegister as (a: number, u: number) => number;
    const bit = v.getDiscreteInput as (a: number, u: number) => boolean;
    const setReg = v.setRegister as (a: number, value: number, u: number) => void;
    expect(multi(0, 3, 3)).toEqual([1, 1, 70_000 - 65_536]);
    expect(single(0, 3)).toBe(1);
    expect(bit(0, 3)).toBe(true);
    expect(exceptionOf(() => multi(0, 3, 1))).toBe(11);
    expect(exceptionOf(() => bit(0, 4))).toBe(11);
    expect(exceptionOf(() => setReg(100, 2200, 1))).toBe(11);
    expect(exceptionOf(() => single(15, 3))).toBe(2);
  });
});
