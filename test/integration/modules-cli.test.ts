/**
 * `plant-console firmware import|list` on a real encrypted store: a bundle from a file is judged
 * as the UI's import is (pinned root from the config at first use, models of the assigned
 * machines), stored, listed and audited as the CLI user; a forged one is refused with its code
 * and exit code 1, and kept in the refused list.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFirmwareCommand } from '../../src-main/app/firmware-cli';
import { runCli } from '../../src-main/cli';
import { silentLogger } from '../../src-main/core/log';
import { MAX_IMPORT_BYTES } from '../../src-main/modules/library';
import { openPlantStore } from '../../src-main/store/open';
import { makeRelease, makeRoot, releaseKeys, writeFixtureFiles } from '../helpers/firmware-fixtures';

const PASS = 'firmware cli test passphrase';
const work = mkdtempSync(join(tmpdir(), 'pc-firmware-cli-'));
const dataDir = join(work, 'plant');
const keys = releaseKeys(3);
let configPath: string;
let good: string;
let forged: string;

function io() {
  const o = { out: '', err: '' };
  return { o, io: { out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s) } };
}
const deps = { env: { PLANT_CONSOLE_PASSPHRASE: PASS }, prompt: null, log: silentLogger };

/** The store as the console opens it (created in beforeAll), to read what the commands left in it. */
function reopen(extra: Partial<Parameters<typeof openPlantStore>[0]> = {}) {
  return openPlantStore({
    dataDir,
    demo: false,
    passphrase: PASS,
    env: {},
    prompt: null,
    log: silentLogger,
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0 },
    ...extra,
  });
}

beforeAll(async () => {
  const files = writeFixtureFiles(work, makeRoot(keys, 2), {
    good: makeRelease({ version: '1.1.0', securityCounter: 3 }, keys.slice(0, 2)),
    forged: makeRelease({ version: '9.9.9' }, releaseKeys(2, 'thief')),
  });
  good = files.bundles.good!;
  forged = files.bundles.forged!;
  configPath = join(work, 'plant.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      plant: { name: 'CLI plant' },
      devices: [{ id: 'im-1', name: 'Moulding 1', profile: 'builtin:im250', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 } }],
      modules: {
        root: 'root.json',
        maintenanceWindow: { days: ['sat'], start: '06:00', end: '14:00' },
        assignments: [{ moduleId: 'mod-1', machineId: 'im-1' }],
      },
    }),
  );
  const store = await reopen({ argon2: { opslimit: 1, memlimit: 8192 } });
  store.close();
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('plant-console firmware', () => {
  it('needs a pinned root: without --config on a store that has none it says so', async () => {
    const { io: out } = io();
    await expect(runFirmwareCommand(['import', good, '--data-dir', dataDir], out, deps)).rejects.toThrow(/No firmware root is pinned/);
  });

  it('imports a signed bundle for an assigned machine’s model, and refuses a forged one with exit code 1', async () => {
    const a = io();
    expect(await runFirmwareCommand(['import', good, '--data-dir', dataDir, '--config', configPath], a.io, deps)).toBe(0);
    expect(a.o.out).toMatch(/^Imported firmware 1\.1\.0 as fw-1\.1\.0-[0-9a-f]{12} for im250: signed by release-1, release-2 \(2 needed\)/);
    const b = io();
    // The root is pinned now: the config is no longer needed.
    expect(await runFirmwareCommand(['import', forged, '--data-dir', dataDir], b.io, deps)).toBe(1);
    expect(b.o.err).toMatch(/refused \(unknown_key\)/);
    const c = io();
    expect(await runFirmwareCommand(['list', '--data-dir', dataDir, '--config', configPath, '--json'], c.io, deps)).toBe(0);
    const listed = JSON.parse(c.o.out) as {
      root: { version: number; threshold: number };
      releases: { version: string; importedBy: string }[];
      refused: { code: string; fileName: string }[];
    };
    expect(listed.root).toMatchObject({ version: 1, threshold: 2 });
    expect(listed.releases.map((r) => r.version)).toEqual(['1.1.0']);
    expect(listed.releases[0]!.importedBy).toMatch(/^cli:/);
    expect(listed.refused).toMatchObject([{ code: 'unknown_key', fileName: 'forged.bundle' }]);
    // Both are in the audit log, as the operating-system user who ran the command.
    const store = await reopen();
    try {
      const rows = store.db.prepare("SELECT kind, user, detail FROM audit_log WHERE kind LIKE 'firmware_%' ORDER BY seq").raw().all() as [
        string,
        string | null,
        string,
      ][];
      expect(rows.map(([kind, user]) => [kind, user?.startsWith('cli:') ?? false])).toEqual([
        ['firmware_root', false],
        ['firmware_imported', true],
        ['firmware_refused', true],
      ]);
      expect(JSON.parse(rows[2]![2])).toMatchObject({ code: 'unknown_key', fileName: 'forged.bundle' });
    } finally {
      store.close();
    }
  });

  it('an oversized file is refused like every other bundle: stored with its code, listed and audited', async () => {
    const huge = join(work, 'huge.pcfw');
    writeFileSync(huge, '');
    // Sparse: one byte more than any bundle, never read into memory.
    truncateSync(huge, MAX_IMPORT_BYTES + 1);
    const a = io();
    expect(await runFirmwareCommand(['import', huge, '--data-dir', dataDir], a.io, deps)).toBe(1);
    expect(a.o.err).toMatch(
      /^plant-console: refused \(image_too_large\): The image is larger than allowed .* The bundle has 269484033 bytes/,
    );
    const b = io();
    expect(await runFirmwareCommand(['list', '--data-dir', dataDir], b.io, deps)).toBe(0);
    expect(b.o.out).toMatch(/Refused:\n.*huge\.pcfw {2}image_too_large: The bundle has 269484033 bytes/);
    const store = await reopen();
    try {
      const last = store.db
        .prepare("SELECT user, detail FROM audit_log WHERE kind = 'firmware_refused' ORDER BY seq DESC LIMIT 1")
        .raw()
        .get() as [string, string];
      expect(last[0]).toMatch(/^cli:/);
      expect(JSON.parse(last[1])).toMatchObject({ code: 'image_too_large', fileName: 'huge.pcfw', source: 'file' });
    } finally {
      store.close();
    }
  });

  it('is reached through the plant-console command line', async () => {
    const { o, io: out } = io();
    process.env['PLANT_CONSOLE_PASSPHRASE'] = PASS;
    try {
      expect(await runCli(['firmware', 'list', '--data-dir', dataDir], out)).toBe(0);
    } finally {
      delete process.env['PLANT_CONSOLE_PASSPHRASE'];
    }
    expect(o.out).toMatch(/Firmware root v1: 2 of release-1, release-2, release-3/);
    expect(o.out).toMatch(/fw-1\.1\.0-\w+ +1\.1\.0/);
    expect(await runCli(['firmware', 'frobnicate'], out)).toBe(2);
  });
});
