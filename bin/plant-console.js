#!/usr/bin/env node
// Runs the CLI from the build output (made by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../out/main/cli.js', import.meta.url));
if (!existsSync(built)) {
  process.stderr.write('plant-console: not built yet (out/main/cli.js missing): run "npm run build" first.\n');
  process.exit(1);
}
const { runCli } = await import(built);
process.exitCode = await runCli(process.argv.slice(2));
