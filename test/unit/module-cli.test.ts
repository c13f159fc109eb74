/**
 * `device-agent` in module mode, in process: usage mistakes (exit 2), the pinned root refused
 * when it differs, `install` refusing a foreign release (exit 1) and installing a good one,
 * `identity`, `status` and `rotate-root`.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDeviceAgentCli } from '../../device-agent/cli';
import { readIdentity } from '../../device-agent/identity';
import { makeRelease, makeRoot, releaseKeys, signedRoot, writeFixtureFiles, type ReleaseKey } from '../helpers/firmware-fixtures';

let base: string;
let keys: ReleaseKey[];
let files: ReturnType<typeof writeFixtureFiles>;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'module-cli-'));
  keys = releaseKeys(3);
  files = writeFixtureFiles(join(base, 'supplier'), makeRoot(keys, 2), {
    good: makeRelease({ version: '1.1.0' }, keys.slice(0, 2)),
    foreign: makeRelease({ version: '1.1.0' }, releaseKeys(2, 'attacker')),
  });
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDeviceAgentCli(argv, { out: (l) => void out.push(l), err: (l) => void err.push(l), stopSignal: Promise.resolve() });
  return { code, out, err };
}

describe('device-agent module mode', () => {
  it.each([
    [['--modbus-port', '5020', '--root', 'r.json'], '--root needs --state-dir'],
    [['--state-dir', 'd', '--modbus-port', '5020', '--console', 'https://127.0.0.1:1'], '--console needs --console-ca'],
    [['--state-dir', 'd', '--modbus-port', '5020', '--console', 'http://x', '--console-ca', 'c'], '--console must be an https:// URL'],
    [['--state-dir', 'd', '--modbus-port', '5020', '--max-trial-boots', '0'], '--max-trial-boots must be 1–20'],
    [['--state-dir', 'd'], '--state-dir needs --modbus-port'],
    [['--state-dir', 'd', '--rtu-tcp-port', '0', '--modbus-port', '5020'], '--state-dir serves Modbus TCP only'],
    [['--state-dir', 'd', '--modbus-port', '5020', '--test-pause-at', 'never'], '--test-pause-at must be one of'],
    [['install', '--state-dir', 'd'], 'install needs BUNDLE: the release bundle file'],
    [['status'], '--state-dir is required (see "device-agent status --help")'],
  ])('%j → exit 2: %s', async (argv, message) => {
    const r = await cli(argv);
    expect(r.err.join('\n')).toContain(`device-agent: ${message}`);
    expect(r.code).toBe(2);
  });

  it('installs a release from a bundle, refuses a foreign one, and shows the state', async () => {
    const dir = join(base, 'm1');
    const foreign = await cli(['install', '--state-dir', dir, '--root', files.root, files.bundles['foreign']!]);
    expect(foreign.code).toBe(1);
    expect(foreign.err[0]).toMatch(/^device-agent: refused: unknown_key — /);
    const good = await cli(['install', '--state-dir', dir, files.bundles['good']!]);
    expect(good.out).toEqual(['device-agent: installed firmware 1.1.0 in slot a; it is tried at the next start']);
    expect(good.code).toBe(0);
    const status = await cli(['status', '--state-dir', dir]);
    expect(JSON.parse(status.out.join('\n'))).toMatchObject({
      model: 'im250',
      active: null,
      pending: 'a',
      committed: { version: '1.0.0', securityCounter: 0 },
      slots: { a: { version: '1.1.0' }, b: null },
      root: { version: 1, threshold: 2, keys: ['release-1', 'release-2', 'release-3'] },
    });
  });

  it('refuses a damaged or oversized bundle with its code, like every other refusal', async () => {
    const dir = join(base, 'm-bad');
    const damaged = join(base, 'damaged.pcfw');
    writeFileSync(damaged, Buffer.alloc(1000, 7));
    const r = await cli(['install', '--state-dir', dir, '--root', files.root, damaged]);
    expect(r.err).toEqual([expect.stringMatching(/^device-agent: refused: malformed — Not a valid firmware bundle: .*512-byte blocks/)]);
    expect(r.code).toBe(1);
    const huge = join(base, 'huge.pcfw');
    writeFileSync(huge, '');
    truncateSync(huge, 18 * 1024 * 1024);
    const big = await cli(['install', '--state-dir', dir, huge]);
    expect(big.err).toEqual([expect.stringMatching(/^device-agent: refused: image_too_large — .* has 18874368 bytes/)]);
    expect(big.code).toBe(1);
  });

  it('refuses to start with a root other than the pinned one', async () => {
    const dir = join(base, 'm2');
    expect((await cli(['install', '--state-dir', dir, '--root', files.root, files.bundles['good']!])).code).toBe(0);
    const other = join(base, 'other-root.json');
    writeFileSync(other, makeRoot(releaseKeys(2, 'other'), 1).bytes);
    const r = await cli(['--modbus-port', '5020', '--state-dir', dir, '--root', other]);
    expect(r.err[0]).toMatch(/pins root v1; --root \(v1\) differs: a root changes only through a signed root rotation/);
    expect(r.code).toBe(2);
  });

  it('prints the identity, the same every time', async () => {
    const dir = join(base, 'm3');
    const a = await cli(['identity', '--state-dir', dir]);
    expect(a.code).toBe(0);
    const id = readIdentity(dir)!;
    expect(a.out[0]).toBe(`module key id   ${id.kid}`);
    expect(a.out[1]).toBe(`fingerprint     ${id.fingerprint}`);
    expect(a.out).toContain('(a new identity was made)');
    const b = await cli(['identity', '--state-dir', dir]);
    expect(b.out.slice(0, 3)).toEqual(a.out.slice(0, 3));
    expect(b.out).not.toContain('(a new identity was made)');
  });

  it('rotates the pinned root only with k signatures of the current keys', async () => {
    const dir = join(base, 'm4');
    expect((await cli(['install', '--state-dir', dir, '--root', files.root, files.bundles['good']!])).code).toBe(0);
    const next = makeRoot(keys.slice(1), 2, 2);
    const { root, signatures } = signedRoot(next, keys);
    const rootFile = join(base, 'root2.json');
    writeFileSync(rootFile, root);
    const sigFiles = signatures.map((s, i) => {
      const f = join(base, `root2.json.${i}.minisig`);
      writeFileSync(f, s);
      return f;
    });
    const few = await cli(['rotate-root', '--state-dir', dir, rootFile, sigFiles[0]!]);
    expect(few.err[0]).toMatch(/refused: below_threshold/);
    expect(few.code).toBe(1);
    const ok = await cli(['rotate-root', '--state-dir', dir, rootFile, ...sigFiles]);
    expect(ok.out).toEqual(['device-agent: pinned root v2']);
    const status = JSON.parse((await cli(['status', '--state-dir', dir])).out.join('\n')) as { root: unknown };
    expect(status.root).toEqual({ version: 2, threshold: 2, keys: ['release-2', 'release-3'] });
  });
});
