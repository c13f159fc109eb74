#!/usr/bin/env node
// Runs the reference supplier cloud from the build output (made by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../out/main/supplier-cloud.js', import.meta.url));
if (!existsSync(built)) {
  process.stderr.write('supplier-cloud: not built yet (out/main/supplier-cloud.js missing): run "npm run build" first.\n');
  process.exit(1);
}
const { runSupplierCloudCli } = await import(built);
process.exitCode = await runSupplierCloudCli(process.argv.slice(2));
