/**
 * package-lock.json says what package.json says (bins, dependencies, engines): otherwise
 * `npm install` on a fresh clone rewrites the lockfile and `npm ci` refuses it. CI checks the same
 * by running npm install (.ci/run); this catches it on a developer's machine first.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const read = (f: string) => JSON.parse(readFileSync(join(root, f), 'utf8')) as Record<string, unknown>;

it("package-lock.json's root entry matches package.json", () => {
  const pkg = read('package.json');
  const lock = read('package-lock.json') as { name: string; version: string; packages: Record<string, Record<string, unknown>> };
  expect(lock.name).toBe(pkg['name']);
  expect(lock.version).toBe(pkg['version']);
  const entry = lock.packages[''];
  for (const field of ['name', 'version', 'bin', 'dependencies', 'devDependencies', 'optionalDependencies', 'engines'])
    expect(entry?.[field], `package-lock.json packages[""].${field}: run npm install and commit the lockfile`).toEqual(pkg[field]);
});
