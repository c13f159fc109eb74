/**
 * The cloud's secret X25519 keys as a receiver holds them: read from the key file(s) and read
 * again when a file changes, so `rotate-key` takes effect without restarting receivers. Old
 * keys stay in the file with `notAfter` = end of their grace; `openSealed` judges that against
 * the receiver's clock.
 */
import { statSync } from 'node:fs';
import { cloudKeyLookup, wipe, type CloudKeyRecord, type KeyLookup, type KeyRing } from '../src-main/protocol';
import { readCloudKeyring, type CloudKeyPair } from './keyfiles';

/** The receiver's view of the cloud keys. */
export interface CloudKeySource {
  lookup(): KeyLookup<CloudKeyRecord>;
  /** Re-reads changed files (forced: now; otherwise at most once a second); true when keys changed. */
  refresh(force?: boolean): boolean;
  /** Key ids currently held. */
  kids(): string[];
  close(): void;
}

function signature(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/** Loads the cloud keys from `files` (throws when they cannot be read at start). */
export function openCloudKeys(files: string[], opts: { onError?: (message: string) => void; clock?: () => number } = {}): CloudKeySource {
  const clock = opts.clock ?? Date.now;
  let rings: KeyRing<CloudKeyPair>[] = files.map((f) => readCloudKeyring(f));
  let seen = files.map(signature);
  let lookup = merged(rings);
  let checkedAt = clock();

  function merged(list: KeyRing<CloudKeyPair>[]): KeyLookup<CloudKeyRecord> {
    const map = new Map<string, CloudKeyRecord>();
    for (const ring of list) for (const [kid, rec] of cloudKeyLookup(ring) as Map<string, CloudKeyRecord>) map.set(kid, rec);
    return map;
  }

  function forget(list: KeyRing<CloudKeyPair>[]): void {
    for (const r of list) for (const e of r.entries) wipe(e.key.secretKey);
  }

  return {
    lookup: () => lookup,
    refresh(force = false) {
      if (!force && clock() - checkedAt < 1000) return false;
      checkedAt = clock();
      const now = files.map(signature);
      if (now.every((s, i) => s === seen[i])) return false;
      try {
        const next = files.map((f) => readCloudKeyring(f));
        forget(rings);
        rings = next;
        seen = now;
        lookup = merged(rings);
        return true;
      } catch (err) {
        // A half-edited or unreadable file must not stop a running receiver: keep the keys it has.
        opts.onError?.(`cloud keys not reloaded: ${(err as Error).message}`);
        seen = now;
        return false;
      }
    },
    kids: () => [...(lookup as Map<string, CloudKeyRecord>).keys()],
    close: () => forget(rings),
  };
}
