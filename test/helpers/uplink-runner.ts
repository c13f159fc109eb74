/**
 * The console as a child process for uplink tests: `startPlant` (store + core + uplink) from a
 * config, exactly as `plant-console serve` starts it, without the web server. Prints `ready`,
 * then one JSON status line every 200 ms; SIGTERM stops it cleanly. Bundled and started by
 * `startUplinkRunner` (test/helpers/uplink-process.ts).
 *
 *   node runner.mjs CONFIG DATA_DIR        (PLANT_CONSOLE_PASSPHRASE in the environment)
 *   node runner.mjs --cli ARGS…            (a plant-console command, e.g. store check)
 */
import { startPlant } from '../../src-main/app/bootstrap';
import { runCli } from '../../src-main/cli';
import { consoleLogger } from '../../src-main/core/log';

// `node runner.mjs --cli ARGS…`: a plant-console command in a process of its own, beside a running console.
if (process.argv[2] === '--cli') process.exit(await runCli(process.argv.slice(3)));

const [configPath, dataDir] = process.argv.slice(2);
if (!configPath || !dataDir) {
  process.stderr.write('usage: runner CONFIG DATA_DIR\n');
  process.exit(2);
}
const plant = await startPlant({ configPath, dataDir, log: consoleLogger('warn') });
const report = (): void => {
  const s = plant.uplink?.status();
  const h = plant.store.history.stats();
  const history = { written: h.samplesWritten, buffered: h.buffered, dropped: h.samplesDropped, writer: h.writer };
  if (s)
    process.stdout.write(
      JSON.stringify({ state: s.state, lastSeq: s.lastSeq, lastAckSeq: s.lastAckSeq, depth: s.outbox.depth, history }) + '\n',
    );
};
const timer = setInterval(report, 200);
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  clearInterval(timer);
  void plant.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
