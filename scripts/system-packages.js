// The Debian packages the tests start (scripts/system-packages.json, the one list): `npm test`
// checks them before anything else. Missing ones are installed where npm test runs as root with
// apt-get (CI, a fresh container); elsewhere it stops at once with one line naming the packages and
// the command to run, unless PLANT_CONSOLE_TEST_SKIP_MISSING=1 asks to run without them (the tests
// that need them are then reported as skipped, never passed).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LIST = join(dirname(fileURLToPath(import.meta.url)), 'system-packages.json');

/** The list's package names. */
export function systemPackageNames() {
  return JSON.parse(readFileSync(LIST, 'utf8')).map((p) => p.name);
}

/** Packages of `names` that dpkg does not report installed; null where there is no dpkg-query. */
export function missingPackages(names) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\n', ...names], { encoding: 'utf8' });
  if (r.error) return null;
  // dpkg-query exits 1 when a name is unknown and then prints nothing for it.
  const installed = new Set(
    r.stdout
      .split('\n')
      .map((l) => l.split(' '))
      .filter(([, status]) => status === 'installed')
      .map(([name]) => name),
  );
  return names.filter((n) => !installed.has(n));
}

function isRootWithApt() {
  return process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
}

function aptGet(args, log) {
  const r = spawnSync('apt-get', args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0) log(r.stderr.trim().split('\n').slice(-3).join('\n'));
  return r.status === 0;
}

/**
 * Makes sure every package is there. Returns { ok: true, skipped: [...] } to go on (skipped: missing
 * packages whose tests the user asked to skip), or { ok: false, message } to stop with that line.
 */
export function ensureSystemPackages({
  names = systemPackageNames(),
  canInstall = isRootWithApt(),
  env = process.env,
  log = (s) => process.stdout.write(s + '\n'),
} = {}) {
  const skipAsked = env.PLANT_CONSOLE_TEST_SKIP_MISSING === '1';
  let missing = missingPackages(names);
  if (missing === null) {
    if (skipAsked) return { ok: true, skipped: [] };
    return {
      ok: false,
      message: `npm test: cannot check the Debian packages the tests need (no dpkg-query): install ${names.join(' ')} (or their equivalents) and run PLANT_CONSOLE_TEST_SKIP_MISSING=1 npm test`,
    };
  }
  if (missing.length > 0 && canInstall) {
    log(`npm test: installing the Debian packages the tests need: ${missing.join(' ')}`);
    if (aptGet(['update', '-qq'], log) && aptGet(['install', '-y', '-qq', '--no-install-recommends', ...missing], log)) {
      missing = missingPackages(names) ?? missing;
    }
  }
  if (missing.length === 0) return { ok: true, skipped: [] };
  if (skipAsked) {
    log(
      `npm test: Debian packages missing: ${missing.join(' ')}; the tests that need them are skipped (PLANT_CONSOLE_TEST_SKIP_MISSING=1)`,
    );
    return { ok: true, skipped: missing };
  }
  return {
    ok: false,
    message: `npm test: the tests need Debian packages that are missing: ${missing.join(' ')}. Install them with: sudo apt-get install --no-install-recommends ${missing.join(' ')} (or run PLANT_CONSOLE_TEST_SKIP_MISSING=1 npm test to skip their tests)`,
  };
}
