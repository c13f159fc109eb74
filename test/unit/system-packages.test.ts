/**
 * The one list of Debian packages the tests start: npm test's check (scripts/system-packages.js)
 * stops with one line naming what is missing and the command, or skips only when asked; a test
 * that needs a missing tool fails instead of skipping silently (test/helpers/system-packages.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureSystemPackages, missingPackages, systemPackageNames } from '../../scripts/system-packages.js';
import { packageVerdict, SKIP_MISSING_ENV } from '../helpers/system-packages';

const root = join(import.meta.dirname, '../..');
const NOT_A_PACKAGE = 'pc-test-no-such-package';

describe("npm test's package check", () => {
  it('lists what CI and the tests need, each once', () => {
    const names = systemPackageNames();
    for (const p of ['chromium', 'socat', 'mbpoll', 'mosquitto', 'python3-pymodbus', 'python3-serial-asyncio', 'python3-nacl'])
      expect(names).toContain(p);
    for (const p of ['openssl', 'minisign', 'fonts-liberation', 'postgresql', 'rsyslog', 'rsyslog-gnutls']) expect(names).toContain(p);
    expect(new Set(names).size).toBe(names.length);
  });

  it('finds a package dpkg does not have', () => {
    // openssl is there on any machine that got this far (node's own TLS tests aside, the console needs it).
    expect(missingPackages(['openssl', NOT_A_PACKAGE])).toEqual([NOT_A_PACKAGE]);
  });

  it('stops with one line naming the packages and the command, where it cannot install them', () => {
    const lines: string[] = [];
    const r = ensureSystemPackages({ names: ['openssl', NOT_A_PACKAGE], canInstall: false, env: {}, log: (l) => lines.push(l) });
    expect(r).toEqual({
      ok: false,
      message: expect.stringMatching(
        new RegExp(
          `^npm test: .*missing: ${NOT_A_PACKAGE}\\. Install them with: sudo apt-get install --no-install-recommends ${NOT_A_PACKAGE} `,
        ),
      ) as string,
    });
    if (!r.ok) expect(r.message).not.toContain('\n');
    expect(lines).toEqual([]);
  });

  it('goes on without them only when asked, and says which tests are skipped', () => {
    const lines: string[] = [];
    const r = ensureSystemPackages({
      names: ['openssl', NOT_A_PACKAGE],
      canInstall: false,
      env: { PLANT_CONSOLE_TEST_SKIP_MISSING: '1' },
      log: (l) => lines.push(l),
    });
    expect(r).toEqual({ ok: true, skipped: [NOT_A_PACKAGE] });
    expect(lines).toEqual([expect.stringContaining(`missing: ${NOT_A_PACKAGE}; the tests that need them are skipped`)]);
  });

  it('.ci/run installs nothing of its own: it runs the README commands, and npm test brings the packages', () => {
    const ci = readFileSync(join(root, '.ci/run'), 'utf8');
    expect(ci).not.toMatch(/apt-get install/);
    expect(ci).toMatch(/^npm install\b/m);
    expect(ci).toMatch(/^npm test$/m);
  });
});

describe('a test that needs a missing tool', () => {
  const saved = process.env[SKIP_MISSING_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[SKIP_MISSING_ENV];
    else process.env[SKIP_MISSING_ENV] = saved;
  });

  it('runs when the tool is there, fails naming the package when not, skips only when asked', () => {
    delete process.env[SKIP_MISSING_ENV];
    expect(packageVerdict(['socat'], true)).toBe('run');
    const failed = packageVerdict(['socat', 'mbpoll'], false);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toMatch(
      /^Missing Debian package\(s\) socat mbpoll: .*apt-get install --no-install-recommends socat mbpoll/,
    );
    process.env[SKIP_MISSING_ENV] = '1';
    expect(packageVerdict(['socat'], false)).toBe('skip');
  });

  it('names only packages of the one list', () => {
    expect(() => packageVerdict(['libfoo-dev'], true)).toThrow(/libfoo-dev: not in scripts\/system-packages.json/);
  });
});
