#!/usr/bin/env node
// `npm install`'s postinstall: fetches the Electron binary with Electron's own installer, where a
// download that cannot be reached (plant networks often block it) is one line, not a failed
// install; `npm start` then serves the same console in web mode. npm itself does not run
// Electron's installer: package.json's allowScripts denies it (npm ≥ 11.16), because its failure
// would abort the whole install. ELECTRON_SKIP_BINARY_DOWNLOAD=1 skips the download, as Electron's
// installer does.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const installer = join(root, 'node_modules', 'electron', 'install.js');

// Without devDependencies (npm install --omit=dev) there is no Electron to fetch.
if (!process.env.ELECTRON_SKIP_BINARY_DOWNLOAD && existsSync(installer)) {
  const r = spawnSync(process.execPath, [installer], { cwd: dirname(installer), stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    // The installer prints a stack; its first line says why (e.g. "RequestError: getaddrinfo ENOTFOUND github.com").
    const why =
      (r.stderr ?? '')
        .split('\n')
        .find((l) => l.trim() !== '')
        ?.trim() ??
      r.error?.message ??
      `exit ${r.status ?? r.signal}`;
    process.stderr.write(
      `Plant Console: the Electron binary could not be downloaded (${why}); npm start serves the console in web mode instead. To fetch it later: npm run postinstall (ELECTRON_MIRROR sets another source).\n`,
    );
  }
}
