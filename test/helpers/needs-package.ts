/**
 * vitest's describe/it for tests that need a Debian package of scripts/system-packages.json: they
 * run when the tool is there, fail naming the package when it is not, and skip only when asked
 * (system-packages.ts).
 */
import { describe, it } from 'vitest';
import { packageVerdict } from './system-packages';

/** `describe(title, fn)` for tests that need `packages`; `present` is the test's own check that the tools are there. */
export function describeNeeding(packages: readonly string[], present: boolean, title: string, fn: () => void): void {
  const verdict = packageVerdict(packages, present);
  if (verdict === 'run') describe(title, fn);
  else if (verdict === 'skip') describe.skip(`${title} (skipped: needs ${packages.join(', ')})`, fn);
  else
    describe(title, () =>
      it(`needs ${packages.join(', ')}`, () => {
        throw verdict;
      }),
    );
}

/** `it(title, fn)` for one test that needs `packages`. */
export function itNeeding(
  packages: readonly string[],
  present: boolean,
  title: string,
  fn: () => Promise<void> | void,
  timeout?: number,
): void {
  const verdict = packageVerdict(packages, present);
  if (verdict === 'run') it(title, fn, timeout);
  else if (verdict === 'skip') it.skip(`${title} (skipped: needs ${packages.join(', ')})`, fn);
  else
    it(title, () => {
      throw verdict;
    });
}
