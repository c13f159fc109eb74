import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findJsonSyntaxProblem } from '../../src-main/config/json-text';
import { loadConfig, loadProfile, packageRoot, parseProfile, resolveConfig } from '../../src-main/config/load';
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

  it('names the line and column of a JSON syntax error, in configs and in profiles', () => {
    const cases: [string, string][] = [
      ['{\n  "plant": { "name": "P" }\n  "devices": []\n}', "line 3, column 3: expected ',' or '}' after a member, found \"\\\"\""],
      ['{\n  "plant": { "name": "P", },\n}', "line 2, column 27: a ',' before '}' (trailing commas are not JSON)"],
      ['{"plant": tru}', 'line 1, column 11: unexpected "t": expected a value'],
      ['{"plant": ', 'line 1, column 11: unexpected end of the file: expected a value'],
      ['{"a": "x\ny"}', 'line 1, column 9: line break inside a string (write \\n)'],
      ['[1, 2]]', 'line 1, column 7: unexpected "]" after the end of the JSON value'],
      ['\uFEFF{}', 'line 1, column 1: unexpected a byte order mark: expected a value'],
    ];
    for (const [text, where] of cases) {
      const file = write('syntax.json', text);
      const err = errorOf(() => loadConfig(file));
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toBe(`${file}: not valid JSON: ${where}`);
    }
    // The scanner agrees with JSON.parse on valid text, whatever it holds.
    for (const ok of [
      '{"a":[1,-2.5e+3,true,false,null,"\\u00e9\\n\\"",{}],"b":[]}',
      ' 0 ',
      '"x"',
      readFileSync(join(packageRoot(), 'profiles/im250.json'), 'utf8'),
    ]) {
      expect(findJsonSyntaxProblem(ok)).toBeNull();
    }
    write('broken-profile.json', '{\n  "model": "x",\n  "points": [\n    { "id": "a" \n  ]\n}');
    const file = write('uses-broken.json', { plant: { name: 'P' }, devices: [{ ...device, profile: 'broken-profile.json' }] });
    expect(errorOf(() => loadConfig(file)).message).toBe(
      `${file}: devices[0].profile: ${join(dir, 'broken-profile.json')}: not valid JSON: line 5, column 3: expected ',' or '}' after a member, found "]"`,
    );
  });

  it('reports a missing or unknown profile with the device path', () => {
    const file = write('noprof.json', { plant: { name: 'P' }, devices: [{ ...device, profile: 'nope.json' }] });
    expect(errorOf(() => loadConfig(file)).message).toMatch(/devices\[0\]\.profile: .*nope\.json: cannot be read/);
    const file2 = write('nobuiltin.json', {
      plant: { name: 'P' },
      devices: [device, { ...device, id: 'm2', unitId: 2, profile: 'builtin:zz9' }],
    });
    const err = errorOf(() => loadConfig(file2));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(
      new RegExp(`^${file2.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: devices\\[1\\]\\.profile: No built-in profile "zz9"`),
    );
  });

  const base = { model: 'x', title: 'X', idealCycleTimeS: 1 };
  const pt = { id: 'a', name: 'A', function: 'holding', address: 0, type: 'uint16' };

  it('refuses at load a point past address 65535 and one larger than a read may be, with file and path', () => {
    const cases: [unknown, string][] = [
      [
        { ...base, points: [pt, { ...pt, id: 'b', type: 'float32', address: 65535 }] },
        'points[1].address: point "b" (float32, 2 registers from 65535) runs past the last Modbus address 65535',
      ],
      [
        { ...base, points: [{ ...pt, type: 'string', length: 10, address: 65530 }] },
        'points[0].address: point "a" (string, 10 registers from 65530) runs past',
      ],
      [
        { ...base, limits: { maxRegistersPerRead: 2 }, points: [{ ...pt, type: 'float64' }] },
        'points[0].type: point "a" occupies 4 registers, more than limits.maxRegistersPerRead (2) allows in one read',
      ],
      [
        { ...base, limits: { maxRegistersPerRead: 8 }, points: [{ ...pt, type: 'string', length: 9 }] },
        'points[0].length: point "a" occupies 9 registers',
      ],
    ];
    for (const [profile, expected] of cases) {
      write('edge-profile.json', profile);
      const file = write('edge.json', { plant: { name: 'P' }, devices: [{ ...device, profile: 'edge-profile.json' }] });
      const err = errorOf(() => loadConfig(file));
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toContain(`${file}: devices[0].profile: ${join(dir, 'edge-profile.json')}: ${expected}`);
    }
    // The last address itself is fine; a coil's bits do not count against the register limit.
    expect(() =>
      parseProfile(
        {
          ...base,
          limits: { maxRegistersPerRead: 1 },
          points: [
            { ...pt, address: 65535 },
            { ...pt, id: 'c', function: 'coil', type: 'bool' },
          ],
        },
        'p.json',
      ),
    ).not.toThrow();
  });

  it("refuses a device's own read limit below a point of its profile", () => {
    const file = write('dev-limit.json', { plant: { name: 'P' }, devices: [{ ...device, limits: { maxRegistersPerRead: 1 } }] });
    const err = errorOf(() => loadConfig(file));
    expect(err.message).toMatch(
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: devices\\[0\\]\\.limits\\.maxRegistersPerRead: 1 is less than the 2 registers of point "[a-z0-9-]+" \\(.*im250\\.json: points\\[\\d+\\]\\)`,
      ),
    );
  });

  it('warns about overlapping points, naming both, and loads the plant', () => {
    write('overlap-profile.json', {
      ...base,
      points: [
        { ...pt, id: 'temp', type: 'float32', address: 1 },
        { ...pt, id: 'zone', address: 2 },
        { ...pt, id: 'flag', function: 'coil', type: 'bool', address: 2 },
        { ...pt, id: 'other', address: 3 },
      ],
    });
    const cfg = loadConfig(write('overlap.json', { plant: { name: 'P' }, devices: [{ ...device, profile: 'overlap-profile.json' }] }));
    expect(cfg.warnings).toEqual([
      `${join(dir, 'overlap-profile.json')}: points[1] "zone" (uint16, holding register 2) overlaps points[0] "temp" (float32, holding registers 1–2)`,
    ]);
    // The shipped profiles have none.
    expect(
      loadConfig(
        write('ok2.json', {
          plant: { name: 'P' },
          devices: [
            device,
            { ...device, id: 'm2', unitId: 2, profile: 'builtin:hp200' },
            { ...device, id: 'm3', unitId: 3, profile: 'builtin:pk60' },
          ],
        }),
      ).warnings,
    ).toEqual([]);
  });

  it('validates profiles: bit functions, strings, writable limits, states, duplicates', () => {
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
