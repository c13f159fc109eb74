/**
 * `npm install` on a plant network that blocks Electron's download: npm does not run Electron's
 * installer itself (package.json allowScripts), our postinstall does and turns its failure into
 * one line; the install goes on and `npm start` serves web mode (cli.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const cache = mkdtempSync(join(tmpdir(), 'pc-electron-cache-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

/** A loopback port nobody listens on: a download from there is refused at once. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function postinstall(env: Record<string, string>) {
  // An empty download cache, and a platform whose binary is surely not installed here, so the
  // installer always tries the (unreachable) download and never touches the real node_modules.
  return spawnSync(process.execPath, [join(root, 'scripts/electron-binary.js')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '', electron_config_cache: cache, npm_config_platform: 'win32', ...env },
  });
}

it("npm runs our postinstall instead of Electron's own installer", () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    allowScripts: Record<string, boolean>;
  };
  expect(pkg.allowScripts['electron']).toBe(false);
  expect(pkg.scripts['postinstall']).toBe('node scripts/electron-binary.js');
});

it('an unreachable download is one line saying what happens and what to do, and the install goes on', async () => {
  const port = await closedPort();
  const r = postinstall({ ELECTRON_MIRROR: `http://127.0.0.1:${port}/` });
  expect(r.status).toBe(0);
  expect(r.stderr).toMatch(
    new RegExp(
      `^Plant Console: the Electron binary could not be downloaded \\(RequestError: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\); npm start serves the console in web mode instead\\. To fetch it later: npm run postinstall .*\\n$`,
    ),
  );
});

it('ELECTRON_SKIP_BINARY_DOWNLOAD=1 skips it without a word', () => {
  const r = postinstall({ ELECTRON_SKIP_BINARY_DOWNLOAD: '1', ELECTRON_MIRROR: 'http://127.0.0.1:9/' });
  expect(r).toMatchObject({ status: 0, stderr: '', stdout: '' });
});
