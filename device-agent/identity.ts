/**
 * The module's own Ed25519 identity: made once, at the first start with a state directory, and
 * kept in `<state dir>/identity.json` (mode 0600, written atomically). The console pairs with it
 * once, after a maintenance user compared the fingerprint (`device-agent identity`) with what
 * the console shows; every heartbeat is signed with it. The fingerprint and key id follow
 * src-main/protocol/keys.ts, so a person reads the same format everywhere.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { ConsoleError } from '../src-main/core/errors';
import { fingerprint, signingKeyPair, signingKeyPairFromSecret, type SigningKeyPair } from '../src-main/protocol/keys';
import { writeFileAtomic } from '../src-main/store/files';
import { statePaths } from './module-state';

export const MODULE_IDENTITY_KIND = 'plant-console/module-identity/v1';

const IdentityFileSchema = z
  .object({
    kind: z.literal(MODULE_IDENTITY_KIND),
    /** libsodium's 64-byte Ed25519 secret key (seed ‖ public key), base64. */
    secretKey: z.string().regex(/^[A-Za-z0-9+/]{86}==$/),
    created: z.number().int().min(0),
  })
  .strict();

/** A module's identity. */
export interface ModuleIdentity {
  keys: SigningKeyPair;
  /** The key id (16 hex): what heartbeats carry as `kid`. */
  kid: string;
  /** What people compare: 8 groups of 4 hex digits. */
  fingerprint: string;
  created: number;
}

function fromFile(path: string): ModuleIdentity {
  let parsed: z.infer<typeof IdentityFileSchema>;
  try {
    parsed = IdentityFileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    throw new ConsoleError('CONFIG_INVALID', `The module identity ${path} is damaged: ${(err as Error).message}`, { cause: err });
  }
  const keys = signingKeyPairFromSecret(Buffer.from(parsed.secretKey, 'base64'));
  return { keys, kid: keys.kid, fingerprint: fingerprint(keys.publicKey, 'ed25519'), created: parsed.created };
}

/** Reads the identity of a state directory, or null when it has none yet. */
export function readIdentity(dir: string): ModuleIdentity | null {
  const path = statePaths(dir).identity;
  if (!existsSync(path)) return null;
  // A copy restored with looser permissions is tightened rather than refused.
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return fromFile(path);
}

/** The identity of a state directory, made on first use. */
export function ensureIdentity(dir: string, now: number): { identity: ModuleIdentity; created: boolean } {
  const existing = readIdentity(dir);
  if (existing) return { identity: existing, created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keys = signingKeyPair();
  const file = { kind: MODULE_IDENTITY_KIND, secretKey: keys.secretKey.toString('base64'), created: now };
  try {
    // noClobber: two processes making one at once cannot both win; the loser reads the winner's.
    writeFileAtomic(statePaths(dir).identity, JSON.stringify(file) + '\n', { noClobber: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { identity: fromFile(statePaths(dir).identity), created: false };
  }
  return { identity: { keys, kid: keys.kid, fingerprint: fingerprint(keys.publicKey, 'ed25519'), created: now }, created: true };
}
