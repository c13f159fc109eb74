/**
 * What `plant-console serve` (and so `npm start` in web mode) prints once the console answers:
 * the URL to open and how to sign in come last and stand out, so a person at the terminal finds
 * them without reading the log (which `--log-file` keeps out of the terminal).
 */
import { demoAccounts } from '../auth/demo';

/** What the banner says. */
export interface ServeBanner {
  version: string;
  /** The SIMULATED demo plant, or the configuration file it runs. */
  demo: boolean;
  configSource: string;
  url: string;
  fingerprint?: string | null;
  loginRequired: boolean;
  /** First start of a configured plant: how to create the administrator (web/setup-route.ts). */
  setupHint: string | null;
  logFile: string | null;
  /** Bold for the URL (a terminal that takes ANSI). */
  emphasis: boolean;
}

/** The banner text, ending in a newline. */
export function formatServeBanner(b: ServeBanner): string {
  const bold = (s: string) => (b.emphasis ? `\u001b[1m${s}\u001b[22m` : s);
  const head = [`Plant Console ${b.version} in web mode — ${b.demo ? 'embedded demo plant (SIMULATED)' : `config ${b.configSource}`}`];
  if (b.logFile) head.push(`Log: ${b.logFile}`);
  if (b.fingerprint) head.push(`TLS certificate SHA-256 fingerprint: ${b.fingerprint}`);
  if (b.loginRequired) head.push('Sign-in required for every connection');
  const last = [`  ${bold(`Open ${b.url}`)}`];
  if (b.setupHint) last.push(`  ${b.setupHint}`);
  if (b.demo) {
    // The passwords stay on the SIMULATED banner's help (auth/demo.ts), not in terminal scrollback.
    const names = demoAccounts().map((a) => (a.name === a.role ? a.name : `${a.name} (${a.role})`));
    last.push(`  Demo accounts: ${names.join(', ')}; their passwords and PINs are under Help on the SIMULATED banner.`);
  }
  return ['', ...head, '', ...last, ''].join('\n') + '\n';
}
