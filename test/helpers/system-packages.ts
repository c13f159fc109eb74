/**
 * Tests that need a tool from the system (a Debian package of scripts/system-packages.json, the
 * one list `npm test` checks and installs) never skip silently: without the tool they fail, naming
 * the package and how to install it, unless the user asked to skip them with
 * PLANT_CONSOLE_TEST_SKIP_MISSING=1 (README). Each test still checks for the tool itself (the
 * paths it runs), so a package that is "installed" but broken is not mistaken for present.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The list, read as a file: this module also runs under Playwright's loader, which has no JSON imports. */
export const SYSTEM_PACKAGES = JSON.parse(readFileSync(join(import.meta.dirname, '../../scripts/system-packages.json'), 'utf8')) as {
  name: string;
  for: string;
}[];

/** The environment variable that turns a missing tool's tests into skips. */
export const SKIP_MISSING_ENV = 'PLANT_CONSOLE_TEST_SKIP_MISSING';

/** What to do with tests that need `packages`: run them, skip them (asked for), or fail with this error. */
export function packageVerdict(packages: readonly string[], present: boolean): 'run' | 'skip' | Error {
  const unknown = packages.filter((p) => !SYSTEM_PACKAGES.some((s) => s.name === p));
  // A test needing a package the list does not name would pass on a developer's PC and fail in CI.
  if (unknown.length) throw new Error(`${unknown.join(', ')}: not in scripts/system-packages.json; add it there`);
  if (present) return 'run';
  if (process.env[SKIP_MISSING_ENV] === '1') return 'skip';
  const names = packages.join(' ');
  return new Error(
    `Missing Debian package(s) ${names}: run npm test as root (it installs them), or apt-get install --no-install-recommends ${names}; ` +
      `${SKIP_MISSING_ENV}=1 skips these tests instead`,
  );
}
