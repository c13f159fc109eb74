/**
 * The four Modbus tables of one simulated device, laid out by its profile, and the
 * modbus-serial service vector that serves them.
 *
 * Reads: a register read (FC3/FC4) is answered when it lies inside the table (address 0 up to
 * the last register a point uses) and touches at least one point; gaps between points read as
 * 0, because the console's read planner reads through short gaps (`limits.maxGap`) as many
 * devices allow. More registers than `limits.maxRegistersPerRead` → exception 3. Anything else
 * → exception 2. modbus-serial asks for bits one address at a time, so a bit read (FC1/FC2)
 * cannot see the request as a whole: every bit inside the table reads (gaps as 0), outside → 2.
 *
 * Writes (FC5/6/15/16) reach only points with `writable`, each written whole (a float32 needs
 * FC16 over both registers): unmapped, read-only or partly covered points → exception 2; a
 * value outside `writable.min…max` or not a finite number → exception 3. A request is checked
 * in full before any point changes, except FC15, which modbus-serial delivers one coil at a
 * time. `maxStep` is the console's rule for one change, not the
 * device's, so it is not enforced here.
 */
import type { IServiceVector } from 'modbus-serial';
import type { PointDef, Profile } from '../src-main/config/schema';
import { decode, encode, registerCount } from '../src-main/modbus/codec';
import type { PointFunction } from '../src-preload/contract';
import type { SimValue } from './simulator';

/** An error the Modbus server turns into an exception response with this code. */
export class ModbusException extends Error {
  override readonly name = 'ModbusException';
  constructor(
    readonly modbusErrorCode: 1 | 2 | 3 | 4 | 11,
    message: string,
  ) {
    super(message);
  }
}

/** Called for every accepted write with the decoded engineering value; may throw a ModbusException. */
export type WriteHandler = (pointId: string, value: SimValue) => void;

export interface RegisterBank {
  readonly profile: Profile;
  /** Encodes every point whose value is given into its registers. */
  update(values: Record<string, SimValue>): void;
  /** Registers (or bits as 0/1) as a Modbus read returns them; throws ModbusException. */
  read(fn: PointFunction, address: number, count: number): number[];
  /** A holding-register write (FC6/FC16); throws ModbusException when refused. */
  writeRegisters(address: number, words: readonly number[]): void;
  /** A coil write (FC5, or one bit of FC15); throws ModbusException when refused. */
  writeCoil(address: number, on: boolean): void;
  /** Points whose value could not be encoded at the last update (their registers keep the old value). */
  encodeErrors(): string[];
}

interface Table {
  words: number[];
  /** The point occupying each address, if any. */
  owner: (PointDef | undefined)[];
}

const MAX_WRITE_REGISTERS = 123;

/** Builds the tables of `profile`, sized by the highest address each function uses. */
export function createRegisterBank(profile: Profile, onWrite: WriteHandler = () => undefined): RegisterBank {
  const tables: Record<PointFunction, Table> = {
    coil: { words: [], owner: [] },
    discrete: { words: [], owner: [] },
    input: { words: [], owner: [] },
    holding: { words: [], owner: [] },
  };
  for (const p of profile.points) {
    const t = tables[p.function];
    const end = p.address + registerCount(p);
    while (t.words.length < end) {
      t.words.push(0);
      t.owner.push(undefined);
    }
    for (let a = p.address; a < end; a++) t.owner[a] = p;
  }
  let failed: string[] = [];

  function store(p: PointDef, words: readonly number[]): void {
    const t = tables[p.function];
    words.forEach((w, i) => (t.words[p.address + i] = w));
  }

  function read(fn: PointFunction, address: number, count: number): number[] {
    const t = tables[fn];
    const bits = fn === 'coil' || fn === 'discrete';
    if (!bits && count > profile.limits.maxRegistersPerRead) {
      throw new ModbusException(3, `${count} registers requested; this device reads at most ${profile.limits.maxRegistersPerRead}`);
    }
    if (count < 1 || address + count > t.words.length) {
      throw new ModbusException(2, `${fn} ${address}…${address + count - 1} is outside the device's table (0…${t.words.length - 1})`);
    }
    if (!bits && !t.owner.slice(address, address + count).some(Boolean)) {
      throw new ModbusException(2, `${fn} ${address}…${address + count - 1} holds no data point`);
    }
    return t.words.slice(address, address + count);
  }

  /** The writable points exactly covering `address…address+count-1`, in order. */
  function coveredPoints(fn: 'coil' | 'holding', address: number, count: number): PointDef[] {
    const t = tables[fn];
    const points: PointDef[] = [];
    let a = address;
    while (a < address + count) {
      const p = t.owner[a];
      if (!p) throw new ModbusException(2, `${fn} ${a} holds no data point`);
      if (!p.writable) throw new ModbusException(2, `Point "${p.id}" (${fn} ${p.address}) is read-only`);
      const n = registerCount(p);
      if (p.address !== a || a + n > address + count) {
        throw new ModbusException(2, `Point "${p.id}" spans ${fn} ${p.address}…${p.address + n - 1}: write it whole`);
      }
      points.push(p);
      a += n;
    }
    return points;
  }

  function checkLimits(p: PointDef, value: SimValue): void {
    const w = p.writable;
    const num = typeof value === 'boolean' ? Number(value) : value;
    if (!w || typeof num !== 'number') return;
    if (!Number.isFinite(num) || num < w.min || num > w.max) {
      throw new ModbusException(3, `Point "${p.id}": ${String(value)} is outside ${w.min}…${w.max}`);
    }
  }

  function deliver(changes: { p: PointDef; value: SimValue; words: number[] }[]): void {
    for (const c of changes) {
      try {
        onWrite(c.p.id, c.value);
      } catch (err) {
        if (err instanceof ModbusException) throw err;
        throw new ModbusException(4, `Point "${c.p.id}": the device could not apply the write (${(err as Error).message})`);
      }
      store(c.p, c.words);
    }
  }

  return {
    profile,
    update(values) {
      failed = [];
      for (const p of profile.points) {
        const v = values[p.id];
        if (v === undefined) continue;
        try {
          store(p, encode(p, v));
        } catch {
          failed.push(p.id);
        }
      }
    },
    read,
    writeRegisters(address, words) {
      if (words.length < 1 || words.length > MAX_WRITE_REGISTERS) {
        throw new ModbusException(3, `A write carries 1…${MAX_WRITE_REGISTERS} registers, not ${words.length}`);
      }
      if (address + words.length > tables.holding.words.length) {
        throw new ModbusException(2, `holding ${address}…${address + words.length - 1} is outside the device's table`);
      }
      const changes = coveredPoints('holding', address, words.length).map((p) => {
        const w = words.slice(p.address - address, p.address - address + registerCount(p));
        const value = decode(p, w);
        checkLimits(p, value);
        return { p, value, words: w };
      });
      deliver(changes);
    },
    writeCoil(address, on) {
      if (address >= tables.coil.words.length) throw new ModbusException(2, `coil ${address} is outside the device's table`);
      const [p] = coveredPoints('coil', address, 1);
      if (!p) throw new ModbusException(2, `coil ${address} holds no data point`);
      checkLimits(p, on);
      deliver([{ p, value: on, words: [on ? 1 : 0] }]);
    },
    encodeErrors: () => [...failed],
  };
}

/**
 * The modbus-serial service vector over `bank`. With `unitId`, requests for any other unit are
 * answered with exception 11 (gateway target device failed to respond), as a TCP gateway does
 * for an address with no device behind it: a master learns at once instead of timing out.
 */
export function serviceVector(bank: RegisterBank, opts: { unitId?: number } = {}): IServiceVector {
  const checkUnit = (unit: number): void => {
    if (opts.unitId !== undefined && unit !== opts.unitId) {
      throw new ModbusException(11, `No unit ${unit} here (this device is unit ${opts.unitId})`);
    }
  };
  const one = (fn: PointFunction, addr: number, unit: number): number => {
    checkUnit(unit);
    return bank.read(fn, addr, 1)[0] ?? 0;
  };
  // modbus-serial picks the calling convention by each function's declared parameter count, so
  // these are all synchronous and take exactly (address[, length|value], unitID).
  return {
    getCoil: (addr: number, unit: number) => one('coil', addr, unit) !== 0,
    getDiscreteInput: (addr: number, unit: number) => one('discrete', addr, unit) !== 0,
    getInputRegister: (addr: number, unit: number) => one('input', addr, unit),
    getHoldingRegister: (addr: number, unit: number) => one('holding', addr, unit),
    getMultipleInputRegisters: (addr: number, length: number, unit: number) => {
      checkUnit(unit);
      return bank.read('input', addr, length);
    },
    getMultipleHoldingRegisters: (addr: number, length: number, unit: number) => {
      checkUnit(unit);
      return bank.read('holding', addr, length);
    },
    setCoil: (addr: number, value: boolean, unit: number) => {
      checkUnit(unit);
      bank.writeCoil(addr, value);
    },
    setRegister: (addr: number, value: number, unit: number) => {
      checkUnit(unit);
      bank.writeRegisters(addr, [value]);
    },
    setRegisterArray: (addr: number, values: number[], unit: number) => {
      checkUnit(unit);
      bank.writeRegisters(addr, values);
    },
  };
}
