/**
 * `plant-console keys show`: unlocks the store the way the console does and prints the plant's
 * public keys, key ids and fingerprints for the supplier to register. Never a secret.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConsoleError } from '../core/errors';
import { consoleLogger, type Logger } from '../core/log';
import type { PublicKeyInfo } from '../store/identity';
import { storeKeyWrapper } from '../store/key-file';
import { openPlantStore } from '../store/open';
import type { PassphrasePrompt } from '../store/prompt';

type Out = { out: (s: string) => void; err: (s: string) => void };

/** What the command needs from its surroundings (injected in tests). */
export interface KeysCliDeps {
  env?: Record<string, string | undefined>;
  /** The terminal prompt; null never asks (default: ask when stdin is a TTY). */
  prompt?: PassphrasePrompt | null;
  log?: Logger;
}

/** The JSON form of `keys show --json`. */
export interface KeysShowReport {
  dataDir: string;
  demo: boolean;
  keys: { use: PublicKeyInfo['use']; alg: PublicKeyInfo['alg']; keyId: string; fingerprint: string; publicKey: string; publicKeyHex: string; createdAt: string }[];
}

const TITLES: Record<PublicKeyInfo['use'], string> = { signing: 'Signing key (Ed25519)', encryption: 'Encryption key (X25519)' };

/** Reads the public half of the plant identity of `dataDir`. */
export async function keysShow(dataDir: string, deps: KeysCliDeps = {}): Promise<KeysShowReport> {
  const dir = resolve(dataDir);
  // Only a store created for the demo plant may be opened with the demo key file; openPlantStore
  // then checks the marker in the (decrypted) meta table too.
  const demo = storeKeyWrapper(dir) === 'demo-key-file';
  const store = await openPlantStore({
    dataDir: dir,
    demo,
    create: false,
    log: deps.log ?? consoleLogger('warn'),
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.prompt !== undefined ? { prompt: deps.prompt } : {}),
    history: { flushIntervalMs: 0, maintenanceIntervalMs: 0 },
  });
  try {
    return {
      dataDir: dir,
      demo,
      keys: store.identity.publicKeys().map((k) => ({
        use: k.use,
        alg: k.alg,
        keyId: k.keyId,
        fingerprint: k.fingerprint,
        publicKey: k.publicKey.toString('base64'),
        publicKeyHex: k.publicKey.toString('hex'),
        createdAt: new Date(k.createdAt).toISOString(),
      })),
    };
  } finally {
    store.close();
  }
}

/** The report as text for people. */
export function formatKeysReport(r: KeysShowReport): string {
  const lines = [
    `Plant identity in ${r.dataDir}${r.demo ? ' (SIMULATED demo plant)' : ''}`,
    'Give these public keys to the supplier; compare the fingerprints over a second channel.',
  ];
  for (const k of r.keys) {
    lines.push('', TITLES[k.use], `  key id       ${k.keyId}`, `  fingerprint  ${k.fingerprint}`, `  public key   ${k.publicKey}`, `  created      ${k.createdAt}`);
  }
  return lines.join('\n') + '\n';
}

/** `keys <subcommand>`; resolves with the exit code, throws ConsoleErrors for the CLI to print. */
export async function runKeysCommand(argv: string[], io: Out, deps: KeysCliDeps = {}): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'show') throw new ConsoleError('BAD_REQUEST', sub === undefined ? 'keys needs a subcommand: show' : `unknown keys subcommand "${sub}" (known: show)`);
  const { values } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: false,
    options: { 'data-dir': { type: 'string', default: '.data' }, json: { type: 'boolean', default: false } },
  });
  // Unlock notices (the demo key file warning) go to the command's stderr, below the warn level nothing.
  const report = await keysShow(values['data-dir'], { log: consoleLogger('warn', (line) => io.err(line + '\n')), ...deps });
  io.out(values.json ? JSON.stringify(report, null, 2) + '\n' : formatKeysReport(report));
  return 0;
}
