/**
 * The OS key store for the plant store's key: Electron's safeStorage (Keychain on macOS, DPAPI on
 * Windows, libsecret/kwallet on Linux) behind the core's OsKeyStore interface. Pass it as
 * `osKeyStore` to openPlantStore; call only after app `ready` (safeStorage needs it on Linux).
 */
import { safeStorage } from 'electron';
import type { OsKeyStore } from '../store/key-wrappers';

/** The safeStorage calls used here, so that a test can hand in a fake. */
export type SafeStorageLike = Pick<typeof safeStorage, 'isEncryptionAvailable' | 'encryptString' | 'decryptString'> & {
  getSelectedStorageBackend?: () => string;
};

/** safeStorage as an OsKeyStore; Linux's "basic_text" fallback (a hard-coded key) counts as unavailable. */
export function safeStorageKeyStore(store: SafeStorageLike = safeStorage, platform: NodeJS.Platform = process.platform): OsKeyStore {
  const backend = (): string => {
    if (platform === 'darwin') return 'keychain';
    if (platform === 'win32') return 'dpapi';
    return store.getSelectedStorageBackend?.() ?? 'unknown';
  };
  return {
    isAvailable: () => store.isEncryptionAvailable() && backend() !== 'basic_text',
    encryptString: (plain) => store.encryptString(plain),
    decryptString: (cipher) => store.decryptString(cipher),
    backend,
  };
}
