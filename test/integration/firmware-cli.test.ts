/**
 * `supplier-cloud firmware …` as a real process: bin/supplier-cloud.js over a build of the CLI
 * (bundled from source with rolldown, as `npm run build` does), from key generation to a bundle
 * that `tar` lists, `minisign` verifies and `firmware verify` accepts or refuses by name; a root
 * rotation; and a clear error with exit code 2 for every bad argument.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'rolldown';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest, parseRoot, readBundle, verifyRootRotation } from '../../src-main/firmware';
import { blake2b } from '../../src-main/protocol';
import { itNeeding } from '../helpers/needs-package';

const root = join(import.meta.dirname, '../..');
// Inside the repository so the build resolves sodium-native and libsql from node_modules.
const buildDir = join(root, 'node_modules', '.cache', `firmware-cli-test-${process.pid}`);
const bin = join(buildDir, 'bin', 'supplier-cloud.js');
const work = mkdtempSync(join(tmpdir(), 'pc-firmware-cli-'));
const keys = join(work, 'keys');
const image = Buffer.from('{"model":"hp200","version":"1.2.0","cycleScale":0.9}\n'.repeat(300));
const DAY = 86_400_000;

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function sc(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: work,
      env: { PATH: process.env['PATH'] ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

function tool(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) =>
    execFile(cmd, args, { cwd: work }, (error, out, err) => resolve({ code: error ? Number(error.code ?? -1) : 0, out, err })),
  );
}

const w = (name: string) => join(work, name);

beforeAll(async () => {
  mkdirSync(join(buildDir, 'bin'), { recursive: true });
  await build({
    input: { 'supplier-cloud': join(root, 'supplier-cloud/cli.ts') },
    platform: 'node',
    cwd: root,
    logLevel: 'silent',
    // Packages stay in node_modules (native addons cannot be bundled), as in the real build.
    external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
    output: { dir: join(buildDir, 'out', 'main'), format: 'esm', entryFileNames: '[name].js' },
  });
  // The real launcher, beside the build it loads (../out/main/supplier-cloud.js).
  copyFileSync(join(root, 'bin', 'supplier-cloud.js'), bin);
  writeFileSync(w('image.bin'), image);
}, 90_000);

afterAll(() => {
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

// Each run starts a node process (~0.4 s); generous limits for a loaded 2-core machine.
describe('supplier-cloud firmware, end to end', { timeout: 120_000 }, () => {
  it('keygen writes NAME.pub (0644) and NAME.key (0600), and refuses to overwrite them', async () => {
    for (const name of ['a', 'b', 'c', 'd']) {
      const r = await sc('firmware', 'keygen', '--out', keys, '--name', name);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(new RegExp(`^Release key "${name}", key id [0-9A-F]{16}\\n`));
      expect(r.out).not.toMatch(/RWQAAEIy|secretKey/); // never the secret
    }
    expect(statSync(join(keys, 'a.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(keys, 'a.pub')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(keys, 'a.pub'), 'utf8')).toMatch(
      /^untrusted comment: minisign public key [0-9A-F]{16} \(plant-console release key a\)\nRW/,
    );
    const again = await sc('firmware', 'keygen', '--out', keys, '--name', 'a');
    expect(again).toMatchObject({ code: 2, err: expect.stringContaining('Refusing to overwrite') as string });
  });

  itNeeding(
    ['minisign'],
    existsSync('/usr/bin/minisign'),
    'root, manifest, sign and bundle make a release that tar lists, minisign verifies and verify accepts',
    async () => {
      const r = await sc(
        'firmware',
        'root',
        '--key',
        join(keys, 'a.pub'),
        '--key',
        join(keys, 'b.pub'),
        '--key',
        join(keys, 'c.pub'),
        '--threshold',
        '2',
        '--version',
        '1',
        '--out',
        w('root.json'),
      );
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/^Root v1: 2 of 3 keys must sign \(a [0-9A-F]{16}, b [0-9A-F]{16}, c [0-9A-F]{16}\)/);
      expect(parseRoot(readFileSync(w('root.json')))).toMatchObject({
        version: 1,
        threshold: 2,
        keys: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
      });

      const m = await sc(
        'firmware',
        'manifest',
        '--model',
        'hp200',
        '--version',
        '1.2.0',
        '--counter',
        '3',
        '--image',
        w('image.bin'),
        '--expires',
        '30d',
        '--notes',
        'Faster cycle.',
        '--out',
        w('manifest.json'),
      );
      expect(m.code, m.err).toBe(0);
      const manifest = parseManifest(readFileSync(w('manifest.json')));
      expect(manifest).toMatchObject({ models: ['hp200'], version: '1.2.0', securityCounter: 3, notes: 'Faster cycle.' });
      expect(manifest.image).toEqual({ size: image.length, blake2b512: blake2b(image, 64).toString('hex') });
      expect(manifest.expires - manifest.created).toBe(30 * DAY);

      for (const k of ['a', 'b']) {
        const s = await sc('firmware', 'sign', '--key', join(keys, `${k}.key`), 'manifest.json', '--out', `manifest.json.${k}.minisig`);
        expect(s.code, s.err).toBe(0);
        expect(s.out).toContain('trusted comment: plant-console firmware-manifest v1 model=hp200 version=1.2.0 counter=3');
        const v = await tool('/usr/bin/minisign', [
          '-V',
          '-H',
          '-p',
          join(keys, `${k}.pub`),
          '-m',
          'manifest.json',
          '-x',
          `manifest.json.${k}.minisig`,
        ]);
        expect(v.code, v.err).toBe(0);
      }

      const b = await sc(
        'firmware',
        'bundle',
        '--manifest',
        'manifest.json',
        '--sig',
        'manifest.json.a.minisig',
        '--sig',
        'manifest.json.b.minisig',
        '--image',
        'image.bin',
        '--root',
        'root.json',
        '--out',
        'release.pcfw',
      );
      expect(b.code, b.err).toBe(0);
      expect(b.out).toContain('signed by a, b (root checked)');
      const list = await tool('tar', ['-tf', 'release.pcfw']);
      expect(list).toMatchObject({ code: 0, out: 'manifest.json\nmanifest.json.1.minisig\nmanifest.json.2.minisig\nimage.bin\n' });
      mkdirSync(w('unpacked'));
      expect((await tool('tar', ['-xf', 'release.pcfw', '-C', 'unpacked'])).code).toBe(0);
      expect(readFileSync(w('unpacked/image.bin')).equals(image)).toBe(true);
      const unpacked = await tool('/usr/bin/minisign', [
        '-V',
        '-p',
        join(keys, 'b.pub'),
        '-m',
        'unpacked/manifest.json',
        '-x',
        'unpacked/manifest.json.2.minisig',
      ]);
      expect(unpacked.code, unpacked.err).toBe(0);

      const ok = await sc('firmware', 'verify', '--root', 'root.json', 'release.pcfw', '--model', 'hp200');
      expect(ok.code, ok.err).toBe(0);
      expect(ok.out).toMatch(
        /^OK {2}firmware 1\.2\.0 for hp200 \(security counter 3\), model hp200\n {2}signed by a, b \(2 of 3 needed, root v1\)\n/,
      );
    },
  );

  it('verify refuses by name: wrong model, version and counter rollback, expired, k−1 signatures, a damaged bundle', async () => {
    const verify = (...extra: string[]) => sc('firmware', 'verify', '--root', 'root.json', 'release.pcfw', '--model', 'hp200', ...extra);
    const cases: [string[], string][] = [
      [['--model', 'im250'], 'refused (wrong_model): Firmware 1.2.0 is for hp200, not for model im250.'],
      [['--installed-version', '1.3.0', '--installed-counter', '3'], 'refused (version_rollback)'],
      [['--installed-version', '1.0.0', '--installed-counter', '4'], 'refused (counter_rollback)'],
      [['--at', new Date(Date.now() + 31 * DAY).toISOString()], 'refused (expired)'],
    ];
    for (const [extra, message] of cases) {
      const r = await (extra[0] === '--model'
        ? sc('firmware', 'verify', '--root', 'root.json', 'release.pcfw', ...extra)
        : verify(...extra));
      expect(r.code, r.out).toBe(1);
      expect(r.err).toContain(message);
    }
    const single = await sc(
      'firmware',
      'bundle',
      '--manifest',
      'manifest.json',
      '--sig',
      'manifest.json.a.minisig',
      '--image',
      'image.bin',
      '--out',
      'single.pcfw',
    );
    expect(single.code, single.err).toBe(0);
    const k1 = await sc('firmware', 'verify', '--root', 'root.json', 'single.pcfw', '--model', 'hp200');
    expect(k1).toMatchObject({ code: 1, err: expect.stringContaining('refused (below_threshold)') as string });
    const damaged = Buffer.from(readFileSync(w('release.pcfw')));
    damaged[600]! ^= 1;
    writeFileSync(w('damaged.pcfw'), damaged);
    const d = await sc('firmware', 'verify', '--root', 'root.json', 'damaged.pcfw', '--model', 'hp200');
    expect(d).toMatchObject({ code: 1, err: expect.stringMatching(/refused \(malformed\)|Not a valid firmware bundle/) as string });
  });

  it('bundle refuses an image or a signature that does not match the manifest', async () => {
    const other = Buffer.from(image);
    other.write('im250', 10);
    writeFileSync(w('other.bin'), other);
    writeFileSync(w('long.bin'), Buffer.concat([image, Buffer.from('\n')]));
    const sigs = ['--sig', 'manifest.json.a.minisig', '--sig', 'manifest.json.b.minisig'];
    const wrong = await sc('firmware', 'bundle', '--manifest', 'manifest.json', ...sigs, '--image', 'other.bin', '--out', 'x.pcfw');
    expect(wrong).toMatchObject({
      code: 1,
      err: expect.stringContaining("does not match the manifest: The image's BLAKE2b-512") as string,
    });
    const long = await sc('firmware', 'bundle', '--manifest', 'manifest.json', ...sigs, '--image', 'long.bin', '--out', 'x.pcfw');
    expect(long).toMatchObject({ code: 1, err: expect.stringContaining('longer than the') as string });
    const s = await sc('firmware', 'sign', '--key', join(keys, 'a.key'), 'root.json', '--out', 'root.json.a.minisig');
    expect(s.out).toContain('trusted comment: plant-console firmware-root v1');
    const foreign = await sc(
      'firmware',
      'bundle',
      '--manifest',
      'manifest.json',
      '--sig',
      'root.json.a.minisig',
      '--image',
      'image.bin',
      '--out',
      'x.pcfw',
    );
    expect(foreign).toMatchObject({ code: 1, err: expect.stringContaining('is not for this manifest') as string });
    expect(() => statSync(w('x.pcfw'))).toThrow();
    const existing = await sc(
      'firmware',
      'bundle',
      '--manifest',
      'manifest.json',
      ...sigs,
      '--image',
      'image.bin',
      '--out',
      'release.pcfw',
    );
    expect(existing).toMatchObject({ code: 2, err: expect.stringContaining('Refusing to overwrite') as string });
  });

  it('a root rotation signed through the CLI is accepted; the removed key then no longer counts', async () => {
    const r = await sc(
      'firmware',
      'root',
      '--key',
      join(keys, 'b.pub'),
      '--key',
      join(keys, 'c.pub'),
      '--key',
      join(keys, 'd.pub'),
      '--threshold',
      '2',
      '--version',
      '2',
      '--out',
      'root2.json',
    );
    expect(r.code, r.err).toBe(0);
    const signatures: string[] = [];
    for (const k of ['a', 'b', 'd']) {
      const s = await sc('firmware', 'sign', '--key', join(keys, `${k}.key`), 'root2.json', '--out', `root2.json.${k}.minisig`);
      expect(s.code, s.err).toBe(0);
      signatures.push(readFileSync(w(`root2.json.${k}.minisig`), 'utf8'));
    }
    const v1 = parseRoot(readFileSync(w('root.json')));
    expect(verifyRootRotation(v1, { root: readFileSync(w('root2.json')), signatures })).toMatchObject({ ok: true, root: { version: 2 } });
    expect(verifyRootRotation(v1, { root: readFileSync(w('root2.json')), signatures: signatures.slice(1) })).toMatchObject({
      ok: false,
      code: 'below_threshold',
    });
    // The 1.2.0 release is signed by a and b; under root v2 only b counts.
    const v = await sc('firmware', 'verify', '--root', 'root2.json', 'release.pcfw', '--model', 'hp200');
    expect(v).toMatchObject({ code: 1, err: expect.stringContaining('refused (below_threshold)') as string });
    expect(readBundle(readFileSync(w('release.pcfw'))).signatures).toHaveLength(2);
  });

  it('gives a clear error and exit code 2 for every bad argument', async () => {
    // Words split on spaces; $A is key a's public key file, $K its secret key file.
    const cmd = (line: string) =>
      line.split(' ').map((w) => (w === '$A' ? join(keys, 'a.pub') : w === '$K' ? join(keys, 'a.key') : w === '$KEYS' ? keys : w));
    const m = 'firmware manifest --image image.bin';
    const cases: [string[], RegExp][] = [
      [cmd('firmware frobnicate'), /unknown command "frobnicate"; the commands are keygen, sign, manifest, root, bundle, verify/],
      [cmd('firmware keygen'), /--out is required/],
      [[...cmd('firmware keygen --out $KEYS --name'), 'Bad Name'], /--name "Bad Name" must be/],
      [cmd('firmware keygen --out $KEYS --bogus'), /unknown option "--bogus"/],
      [cmd('firmware sign manifest.json'), /--key is required/],
      [cmd('firmware sign --key $K'), /sign needs FILE: the file to sign/],
      [cmd('firmware sign --key $K manifest.json --trusted-comment hi --out m.sig'), /trusted comment of a manifest is derived from it/],
      [cmd(`${m} --version 1.0.0 --counter 1 --out m.json`), /--model is required/],
      [[...cmd(`${m} --version 1.0.0 --counter 1 --out m.json --model`), 'HP 200'], /--model "HP 200" must be/],
      [cmd(`${m} --model hp200 --version 1.2 --counter 1 --out m.json`), /--version "1\.2" must be MAJOR\.MINOR\.PATCH/],
      [cmd(`${m} --model hp200 --version 1.2.0 --counter x --out m.json`), /--counter must be a whole number ≥ 0, not "x"/],
      [cmd(`${m} --model hp200 --version 1.2.0 --counter 1 --expires 5y --out m.json`), /"5y" is not a duration/],
      [cmd(`${m} --model hp200 --version 1.2.0 --counter 1`), /--out is required/],
      [cmd(`${m} --model hp200 --version 1.2.0 --counter 1 --out manifest.json`), /Refusing to overwrite/],
      [cmd('firmware root --key $A --threshold 2 --version 1 --out r.json'), /--threshold 2 is more than the 1 key\(s\) given/],
      [cmd('firmware root --key $A --threshold 0 --version 1 --out r.json'), /--threshold must be a whole number ≥ 1/],
      [cmd('firmware root --key $A --key $A --threshold 1 --version 1 --out r.json'), /key name a twice/],
      [cmd('firmware root --threshold 1 --version 1 --out r.json'), /--key is required/],
      [cmd('firmware bundle --manifest manifest.json --image image.bin --out y.pcfw'), /--sig is required/],
      [
        cmd(
          'firmware bundle --manifest manifest.json --sig manifest.json.a.minisig --sig ./manifest.json.a.minisig --image image.bin --out y.pcfw',
        ),
        /manifest\.json\.a\.minisig is given twice/,
      ],
      [cmd('firmware verify --root root.json release.pcfw'), /--model is required/],
      [cmd('firmware verify --root root.json release.pcfw --model hp200 --installed-version 1.0.0'), /go together/],
      [cmd('firmware verify --root root.json release.pcfw --model hp200 --at soon'), /--at "soon" is not a time/],
    ];
    for (const [args, message] of cases) {
      const r = await sc(...args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(message);
    }
    // Unreadable or unusable files: exit 1, naming the file.
    const missing = await sc('firmware', 'sign', '--key', join(keys, 'nope.key'), 'manifest.json', '--out', 'n.sig');
    expect(missing).toMatchObject({
      code: 1,
      err: expect.stringContaining(`Cannot read the secret key file ${join(keys, 'nope.key')}: no such file`) as string,
    });
    const pubAsKey = await sc('firmware', 'sign', '--key', join(keys, 'a.pub'), 'manifest.json', '--out', 'n.sig');
    expect(pubAsKey).toMatchObject({
      code: 1,
      err: expect.stringContaining('is not usable: The secret key has 42 bytes, not 158') as string,
    });
    const help = await sc('firmware', 'keygen', '--help');
    expect(help).toMatchObject({
      code: 0,
      out: expect.stringContaining('Usage: supplier-cloud firmware keygen --out DIR [options]') as string,
    });
  });
});
