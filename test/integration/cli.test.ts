/** The plant-console CLI: `read` against real agents, argument errors, and `npm start`'s fallback. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type Agent } from '../../device-agent/agent';
import { startDemoPlant } from '../../src-main/app/demo';
import { runCli } from '../../src-main/cli';

const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'pc-cli-'));
let agent: Agent;
let deadPort: number;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

function writeConfig(name: string, devices: unknown[]): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({ plant: { name: 'CLI test' }, devices }));
  return file;
}

beforeAll(async () => {
  agent = await startAgent({ port: 0, model: 'hp200', seed: 5 });
  deadPort = await freePort();
});
afterAll(async () => {
  await agent?.stop();
});

describe('plant-console read', () => {
  it('prints every decoded point of a live device and exits 0', async () => {
    const file = writeConfig('live.json', [
      { id: 'press', name: 'Press', profile: 'builtin:hp200', transport: { type: 'tcp', host: '127.0.0.1', port: agent.port } },
    ]);
    const { code, out } = await cli(['read', '--config', file]);
    expect(code).toBe(0);
    expect(out).toMatch(/^OK {3}press "Press" \(hp200\) at 127\.0\.0\.1:\d+ unit 1/m);
    // Every point of the profile, with raw words and unit.
    for (const id of ['state', 'good', 'force', 'oil-temp', 'customer', 'force-sp', 'guard', 'pump']) expect(out).toContain(` ${id} `);
    expect(out).toMatch(/oil-temp .* holding 10 .* int16 +[0-9a-f]{4} +\d+\.\d °C/);
  });

  it('--json gives values equal to the simulator', async () => {
    const file = writeConfig('json.json', [
      { id: 'press', name: 'Press', profile: 'builtin:hp200', transport: { type: 'tcp', host: '127.0.0.1', port: agent.port } },
    ]);
    const { code, out } = await cli(['read', '--config', file, '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(out) as { devices: { ok: boolean; points: { id: string; value: unknown; quality: string }[] }[] };
    const points = report.devices[0]!.points;
    expect(points.every((p) => p.quality === 'good')).toBe(true);
    const sp = points.find((p) => p.id === 'force-sp')!.value;
    expect(sp).toBe(agent.simulator.values()['force-sp']);
  });

  it('reports a dead device clearly, exits 1, and still reads the live one', async () => {
    const file = writeConfig('mixed.json', [
      { id: 'live', name: 'Live', profile: 'builtin:hp200', transport: { type: 'tcp', host: '127.0.0.1', port: agent.port } },
      {
        id: 'dead',
        name: 'Dead',
        profile: 'builtin:im250',
        transport: { type: 'tcp', host: '127.0.0.1', port: deadPort },
        timeoutMs: 300,
        retries: 0,
      },
    ]);
    const { code, out } = await cli(['read', '--config', file]);
    expect(code).toBe(1);
    expect(out).toMatch(/^OK {3}live/m);
    expect(out).toMatch(/^FAIL dead "Dead" \(im250\) at 127\.0\.0\.1:\d+ unit 1/m);
    expect(out).toMatch(/error: .*(refused|127\.0\.0\.1)/i);
    const one = await cli(['read', '--config', file, '--device', 'live']);
    expect(one.code).toBe(0);
    expect(one.out).not.toContain('dead');
  });

  it('explains usage errors with exit code 2', async () => {
    expect((await cli(['read'])).err).toContain('--config is required (see "plant-console read --help")');
    const unknownDevice = await cli([
      'read',
      '--config',
      writeConfig('u.json', [{ id: 'a', name: 'A', profile: 'builtin:pk60', transport: { type: 'tcp', host: '127.0.0.1', port: 1 } }]),
      '--device',
      'zz',
    ]);
    expect(unknownDevice.code).toBe(2);
    expect(unknownDevice.err).toContain('no device "zz"');
    const bad = await cli(['serve', '--port', 'eighty']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--port must be 0–65535');
    const unknown = await cli(['serve', '--colour', 'red']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown option "--colour"');
    expect((await cli(['frobnicate'])).err).toContain('unknown command "frobnicate"');
  });

  it('names the file and field of a broken config', async () => {
    const file = writeConfig('broken.json', [
      { id: 'a', name: 'A', profile: 'builtin:pk60', transport: { type: 'tcp', host: '127.0.0.1', port: 'x' } },
    ]);
    const { code, err } = await cli(['read', '--config', file]);
    expect(code).toBe(1);
    expect(err).toContain(`${file}: devices[0].transport.port:`);
  });

  it('refuses a profile point past address 65535 naming config, device, profile and point; warns of overlaps', async () => {
    const point = { id: 'temp', name: 'Temp', function: 'holding', type: 'float32', address: 65535 };
    const profile = join(dir, 'edge-profile.json');
    writeFileSync(profile, JSON.stringify({ model: 'edge', title: 'Edge', idealCycleTimeS: 1, points: [point] }));
    const device = { id: 'a', name: 'A', profile: 'edge-profile.json', transport: { type: 'tcp', host: '127.0.0.1', port: agent.port } };
    const file = writeConfig('edge.json', [device]);
    const refused = await cli(['read', '--config', file]);
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(
      `plant-console: ${file}: devices[0].profile: ${profile}: points[0].address: point "temp" (float32, 2 registers from 65535) runs past the last Modbus address 65535\n`,
    );
    // Overlapping points are read, with a warning naming both.
    writeFileSync(
      profile,
      JSON.stringify({
        model: 'edge',
        title: 'Edge',
        idealCycleTimeS: 1,
        points: [
          { ...point, address: 1 },
          { ...point, id: 'zone', type: 'uint16', address: 2 },
        ],
      }),
    );
    const warned = await cli(['read', '--config', file]);
    expect(warned.err).toBe(
      `plant-console: warning: ${profile}: points[1] "zone" (uint16, holding register 2) overlaps points[0] "temp" (float32, holding registers 1–2)\n`,
    );
    expect(warned.out).toMatch(/^OK {3}a "A" \(edge\)/m);
  });
});

describe('plant-console serve --demo-*-port', () => {
  it('refuses them with a config, out of range, or twice the same port; a taken port is named', async () => {
    const file = writeConfig('ports.json', [
      { id: 'a', name: 'A', profile: 'builtin:pk60', transport: { type: 'tcp', host: '127.0.0.1', port: 1 } },
    ]);
    const withConfig = await cli(['serve', '--config', file, '--demo-broker-port', '18830']);
    expect([withConfig.code, withConfig.err]).toEqual([
      2,
      'plant-console: the --demo-*-port options are for the embedded demo; a configured plant sets its ports in its config file\n',
    ]);
    expect((await cli(['serve', '--demo-modbus-port', '65534'])).err).toContain('--demo-modbus-port must be 1–65533, got "65534"');
    expect((await cli(['serve', '--demo-broker-port', '0'])).err).toContain('--demo-broker-port must be 1–65535, got "0"');
    const twice = await cli(['serve', '--demo-modbus-port', '20000', '--demo-module-port', '20002']);
    expect([twice.code, twice.err]).toEqual([2, 'plant-console: --demo-module-port and --demo-modbus-port both ask for port 20002\n']);
    const help = (await cli(['serve', '--help'])).out;
    for (const option of ['--demo-broker-port N', '--demo-modbus-port N', '--demo-module-port N']) expect(help).toContain(option);
    // A port already taken: the demo does not start, and says which option to change.
    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(startDemoPlant({ ports: { modbus: port } })).rejects.toThrow(
        `--demo-modbus-port ${port}: the port is already in use; choose another`,
      );
    } finally {
      taken.close();
    }
  });
});

describe('plant-console serve with a configured plant', () => {
  it('does not start without the store passphrase, and says how to give it', async () => {
    const file = writeConfig('locked.json', [
      { id: 'press', name: 'Press', profile: 'builtin:hp200', transport: { type: 'tcp', host: '127.0.0.1', port: agent.port } },
    ]);
    const saved = process.env.PLANT_CONSOLE_PASSPHRASE;
    delete process.env.PLANT_CONSOLE_PASSPHRASE;
    try {
      const { code, err } = await cli(['serve', '--config', file, '--port', '0', '--data-dir', join(dir, 'locked-data')]);
      expect(code).toBe(1);
      expect(err).toMatch(/locked.*PLANT_CONSOLE_PASSPHRASE/i);
    } finally {
      if (saved !== undefined) process.env.PLANT_CONSOLE_PASSPHRASE = saved;
    }
  });
});

describe('npm start without an Electron binary', () => {
  it('says so in one line, serves web mode, and ends with the URL and the demo accounts; the log goes to a file', async () => {
    const dataDir = join(dir, 'data');
    const child = spawn(process.execPath, [join(root, 'scripts/start.js'), '--port', '0', '--data-dir', dataDir], {
      cwd: root,
      env: { ...process.env, DISPLAY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await expect.poll(() => out, { timeout: 60_000, interval: 200 }).toMatch(/Demo accounts: .*\n\n$/);
      expect(out).toMatch(
        /^Electron cannot start here \((the Electron binary is not installed|no graphical display)[^\n]*\): serving the console in web mode instead\.$/m,
      );
      // The URL and the accounts hint are the last lines, after the log's whereabouts; no log line in the terminal.
      const lines = out.trimEnd().split('\n');
      expect(lines.at(-2)).toMatch(/^ {2}Open http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(lines.at(-1)).toMatch(
        /^ {2}Demo accounts: operator, maintenance, admin, support \(supplier-support\); .*Help on the SIMULATED banner\.$/,
      );
      expect(out).toContain(`Log: ${join(dataDir, 'plant-console.log')}\n`);
      expect(err).not.toMatch(/ info /);
      expect(readFileSync(join(dataDir, 'plant-console.log'), 'utf8')).toMatch(/ info {2}Plant core running/);
      expect(statSync(join(dataDir, 'plant-console.log')).mode & 0o777).toBe(0o600);
      const url = /Open (http:\/\/\S+)/.exec(out)![1]!;
      const health = (await (await fetch(new URL('healthz', url))).json()) as { simulated: boolean; machines: unknown[] };
      expect(health.simulated).toBe(true);
      expect(health.machines).toHaveLength(3);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 90_000);
});
