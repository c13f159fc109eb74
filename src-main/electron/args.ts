/** Command-line options of the Electron app (`--config FILE`, `--data-dir DIR`, `--kiosk`). */
export interface ElectronArgs {
  config?: string;
  dataDir?: string;
  kiosk: boolean;
}

/** Parses the options the console understands and ignores Chromium's own switches. */
export function parseElectronArgs(argv: readonly string[]): ElectronArgs {
  const out: ElectronArgs = { kiosk: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--kiosk') out.kiosk = true;
    else if (a === '--config' && argv[i + 1]) out.config = argv[++i];
    else if (a === '--data-dir' && argv[i + 1]) out.dataDir = argv[++i];
  }
  return out;
}
