#!/usr/bin/env node
// `npm test`: first the Debian packages the tests start (scripts/system-packages.js: installed as
// root, else a one-line stop), then type-check, lint, build, unit + integration tests (vitest),
// end-to-end tests (Playwright in Debian's chromium). Runs every step, then prints one closing
// summary line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSystemPackages } from './system-packages.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const packages = ensureSystemPackages();
if (!packages.ok) {
  process.stderr.write(packages.message + '\n');
  process.exit(1);
}
const bin = (name) => join(root, 'node_modules', '.bin', name);
const results = join(root, 'test-results');
mkdirSync(results, { recursive: true });
const vitestJson = join(results, 'vitest.json');
const playwrightJson = join(results, 'playwright.json');
rmSync(vitestJson, { force: true });
rmSync(playwrightJson, { force: true });

/** What Prettier keeps formatted (see .prettierrc.json; Markdown and fixtures are left alone). */
const FORMATTED = [
  'src-main/**/*.ts',
  'src-renderer/**/*.{ts,tsx,css}',
  'src-preload/**/*.ts',
  'device-agent/**/*.ts',
  'supplier-cloud/**/*.ts',
  'test/**/*.ts',
  'scripts/**/*.{ts,js}',
  'bin/*.js',
  '*.ts',
  'eslint.config.js',
];

const steps = [
  ['type-check', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json']],
  ['lint', bin('eslint'), ['.']],
  ['format', bin('prettier'), ['--check', '--log-level', 'warn', ...FORMATTED]],
  ['build', bin('electron-vite'), ['build']],
  ['unit + integration', bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile=${vitestJson}`]],
  ['end-to-end', bin('playwright'), ['test', '--reporter=list,json'], { PLAYWRIGHT_JSON_OUTPUT_NAME: playwrightJson }],
];

/** Without chromium (skipped as asked) no end-to-end test can run: they are counted as skipped. */
let e2eSkipped = 0;
if (packages.skipped.includes('chromium')) {
  steps.pop();
  const list = spawnSync(bin('playwright'), ['test', '--list'], { cwd: root, encoding: 'utf8' });
  e2eSkipped = Number(/Total: (\d+) tests?/.exec(list.stdout)?.[1] ?? 0);
  process.stdout.write(`\n=== end-to-end: ${e2eSkipped} tests skipped (no chromium) ===\n`);
}

const failedSteps = [];
for (const [name, cmd, args, env] of steps) {
  const t0 = Date.now();
  process.stdout.write(`\n=== ${name} ===\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const ok = r.status === 0;
  process.stdout.write(
    `=== ${name}: ${ok ? 'ok' : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s ===\n`,
  );
  if (!ok) failedSteps.push(name);
  // Without a build there is nothing to test further.
  if (!ok && name === 'build') break;
}

let passed = 0;
let failed = 0;
let skipped = e2eSkipped;
if (existsSync(vitestJson)) {
  const v = JSON.parse(readFileSync(vitestJson, 'utf8'));
  passed += v.numPassedTests ?? 0;
  failed += v.numFailedTests ?? 0;
  skipped += (v.numPendingTests ?? 0) + (v.numTodoTests ?? 0);
}
if (existsSync(playwrightJson)) {
  const p = JSON.parse(readFileSync(playwrightJson, 'utf8'));
  passed += (p.stats?.expected ?? 0) + (p.stats?.flaky ?? 0);
  failed += p.stats?.unexpected ?? 0;
  skipped += p.stats?.skipped ?? 0;
}
// A failing step that is not a test runner (type-check, lint, build) counts as one failure.
failed += failedSteps.filter((s) => !['unit + integration', 'end-to-end'].includes(s)).length;
if (failedSteps.length > 0) process.stdout.write(`\nFailed steps: ${failedSteps.join(', ')}\n`);
process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exit(failedSteps.length === 0 && failed === 0 ? 0 : 1);
