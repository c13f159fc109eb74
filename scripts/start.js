#!/usr/bin/env node
// `npm start`: build, then open the console in Electron; where Electron is missing or cannot
// start (no binary, no display), say so in one line and serve the same console in web mode.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

const build = spawnSync(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (build.status !== 0) {
  process.stderr.write('npm start: the build failed (see above).\n');
  process.exit(1);
}

const NOT_INSTALLED = 'the Electron binary is not installed; npm run postinstall fetches it';

/** The Electron binary, or the reason there is none. */
function findElectron() {
  try {
    const bin = createRequire(import.meta.url)('electron');
    if (typeof bin === 'string' && existsSync(bin)) return { bin };
    return { why: NOT_INSTALLED };
  } catch {
    // electron's index.js throws when its download (scripts/electron-binary.js) was skipped or failed.
    return { why: NOT_INSTALLED };
  }
}

/** The value of `--name VALUE` or `--name=VALUE` in the arguments given to npm start. */
function option(name) {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return args[i] === name ? args[i + 1] : args[i].slice(name.length + 1);
}

async function webMode(why) {
  process.stdout.write(`Electron cannot start here (${why}): serving the console in web mode instead.\n`);
  // The log goes to a file in the data directory: the terminal shows the URL to open, last.
  const logFile = option('--log-file') === undefined ? ['--log-file', join(option('--data-dir') ?? '.data', 'plant-console.log')] : [];
  const { runCli } = await import(join(root, 'out/main/cli.js'));
  process.exitCode = await runCli(['serve', ...args, ...logFile]);
}

const electron = findElectron();
if (!electron.bin) {
  await webMode(electron.why);
} else if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
  await webMode('no graphical display');
} else {
  const started = Date.now();
  const child = spawn(electron.bin, [root, ...args], { cwd: root, stdio: 'inherit' });
  child.on('exit', async (code) => {
    // Electron that dies at once (missing libraries, no GPU) gets the web console instead.
    if (code !== 0 && Date.now() - started < 10_000) await webMode(`Electron exited with code ${code} at start`);
    else process.exitCode = code ?? 0;
  });
}
