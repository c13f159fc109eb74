import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadProfile, parseProfile, resolveConfig } from '../../src-main/config/load';
import { ConsoleError } from '../../src-main/core/errors';

const dir = mkdtempSync(join(tmpdir(), 'pc-config-'));
function write(name: string, data: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof data === 'string' ? data : JSON.stringify(data));
  return file;
}

const device = { id: 'm1', name: 'M1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 5020 } };

function errorOf(fn: () => unknown): ConsoleError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConsoleError);
    return err as ConsoleError;
  }
  throw new Error('expected an error');
}

describe('config loading', () => {
  it('loads a minimal config with secure defaults', () => {
    const cfg = loadConfig(write('ok.json', { plant: { name: 'P' }, devices: [device] }));
    expect(cfg.simulated).toBe(false);
    expect(cfg.plant.timezone).toBe('UTC');
    expect(cfg.shifts.map((s) => s.start)).toEqual(['06:00', '14:00', '22:00']);
    const d = cfg.devices[0]!;
    expect(d.unitId).toBe(1);
    expect(d.pollIntervalMs).toBe(500);
    expect(d.profileDef.model).toBe('im250');
    // Unclassified points are local: secure by default.
    expect(d.profileDef.points.find((p) => p.id === 'serial')?.sensitivity).toBe('local');
  });

  it('names the file, the path and what is wrong', () => {
    const file = write('bad-port.json', {
      plant: { name: 'P' },
      devices: [{ ...device, transport: { type: 'tcp', host: 'h', port: 70000 } }],
    });
    const err = errorOf(() => loadConfig(file));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain(`${file}: devices[0].transport.port:`);
    expect(err.message).toMatch(/65535/);
  });

  it('refuses unknown keys, duplicate ids, unknown time zones and bad shift times', () => {
    const file = write('bad-many.json', {
      plant: { name: 'P', timezone: 'Mars/Olympus' },
      shifts: [{ name: 'A', start: '25:00' }],
      devices: [device, { ...device, extra: true }],
    });
    const msg = errorOf(() => loadConfig(file)).message;
    expect(msg).toContain('devices[1]: Unrecognized key');
    expect(msg).toContain('shifts[0].start: must be HH:MM');
    const file2 = write('dup.json', { plant: { name: 'P', timezone: 'Mars/Olympus' }, devices: [device, device] });
    const msg2 = errorOf(() => loadConfig(file2)).message;
    expect(msg2).toContain('devices[1].id: duplicate device id "m1"');
    expect(msg2).toContain('plant.timezone: unknown time zone "Mars/Olympus"');
  });

  it('reports unreadable files and bad JSON clearly', () => {
    expect(errorOf(() => loadConfig(join(dir, 'missing.json'))).message).toMatch(/missing\.json: cannot be read \(ENOENT\)/);
    expect(errorOf(() => loadConfig(write('broken.json', '{"plant": '))).message).toMatch(/broken\.json: not valid JSON/);
  });

  it('reports a missing or unknown profile with the device path', () => {
    const file = write('noprof.json', { plant: { name: 'P' }, devices: [{ ...device, profile: 'nope.json' }] });
    expect(errorOf(() => loadConfig(file)).message).toMatch(/devices\[0\]\.profile: .*nope\.json: cannot be read/);
    const file2 = write('nobuiltin.json', { plant: { name: 'P' }, devices: [{ ...device, profile: 'builtin:zz9' }] });
    expect(errorOf(() => loadConfig(file2)).message).toContain('No built-in profile "zz9"');
  });

  it('validates profiles: bit functions, strings, writable limits, states, duplicates', () => {
    const base = { model: 'x', title: 'X', idealCycleTimeS: 1 };
    const pt = { id: 'a', name: 'A', function: 'holding', address: 0, type: 'uint16' };
    const cases: [unknown[], string][] = [
      [[{ ...pt, function: 'coil' }], 'points[0].type: a coil holds one bit'],
      [[{ ...pt, type: 'string' }], 'points[0].length: a string point needs "length"'],
      [[{ ...pt, function: 'input', writable: { min: 0, max: 1, maxStep: 1 } }], 'points[0].writable: only holding registers and coils'],
      [[{ ...pt, writable: { min: 5, max: 1, maxStep: 1 } }], 'points[0].writable.min: min must not exceed max'],
      [[{ ...pt, role: 'state' }], 'points[0].states: a state point needs "states"'],
      [[pt, pt], 'points[1].id: duplicate point id "a"'],
      [[{ ...pt, address: 70000 }], 'points[0].address:'],
      [[{ ...pt, id: 'Bad Id' }], 'points[0].id: must be 1–64 characters'],
    ];
    for (const [points, expected] of cases) {
      expect(errorOf(() => parseProfile({ ...base, points }, 'p.json')).message).toContain(`p.json: ${expected}`);
    }
  });

  it('ships valid profiles for the three demo models', () => {
    for (const m of ['im250', 'hp200', 'pk60']) {
      const p = loadProfile(`builtin:${m}`, dir);
      expect(p.points.filter((x) => x.role === 'state')).toHaveLength(1);
      expect(p.points.some((x) => x.key)).toBe(true);
    }
  });

  it('marks a resolved demo config as simulated', () => {
    expect(resolveConfig({ plant: { name: 'P' }, devices: [device] }, '(demo)', { simulated: true }).simulated).toBe(true);
  });
});
