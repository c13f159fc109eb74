#!/usr/bin/env node
// Runs the simulated device agent from the build output (made by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../out/main/device-agent.js', import.meta.url));
if (!existsSync(built)) {
  process.stderr.write('device-agent: not built yet (out/main/device-agent.js missing): run "npm run build" first.\n');
  process.exit(1);
}
const { runDeviceAgentCli } = await import(built);
process.exitCode = await runDeviceAgentCli(process.argv.slice(2));
