/**
 * `supplier-cloud keygen` and `supplier-cloud provision`: the cloud's X25519 key pair, the
 * supplier's Ed25519 signing key pair, and plant provisioning files. Secret files get mode
 * 0600, public ones 0644; nothing existing is overwritten without `force`.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConsoleError } from '../src-main/core/errors';
import { boxKeyPair, createKeyRing, fingerprint, randomSecret, signingKeyPair, wipe, type KeyRing } from '../src-main/protocol';
import {
  KEY_FILES,
  PUBLIC_MODE,
  SECRET_MODE,
  readCloudKeyring,
  readSupplierPublicKeys,
  supplierKeysFile,
  writeCloudKeyring,
  writeFileAtomic,
  type CloudKeyPair,
} from './keyfiles';
import { buildProvisioning } from './provisioning';

/** A public key as the commands print it (never a secret). */
export interface PublicKeySummary {
  role: 'cloud-encryption' | 'supplier-signing';
  alg: 'x25519' | 'ed25519';
  kid: string;
  fingerprint: string;
  publicKey: string;
}

/** What `keygen` wrote. */
export interface KeygenResult {
  dir: string;
  files: { path: string; mode: number; secret: boolean; forPlant?: boolean }[];
  keys: PublicKeySummary[];
  plant?: { id: string; pseudonym: string; provisioning: string };
}

function refuseOverwrite(paths: string[], force: boolean): void {
  const existing = paths.filter((p) => existsSync(p));
  if (existing.length && !force) {
    throw new ConsoleError(
      'BAD_REQUEST',
      `Refusing to overwrite existing key files (${existing.join(', ')}); give --force to replace them (the old keys are then lost).`,
    );
  }
}

/** Writes a plant's provisioning file from the keys in `keysDir` (mode 0600: it holds the pseudonym key). */
export function writePlantProvisioning(p: { keysDir: string; out: string; plantId?: string; force?: boolean; now?: number }): {
  path: string;
  plant?: { id: string; pseudonym: string };
} {
  const now = p.now ?? Date.now();
  const out = resolve(p.out);
  refuseOverwrite([out], p.force ?? false);
  const ring = readCloudKeyring(join(p.keysDir, KEY_FILES.cloudSecret));
  const supplierKeys = readSupplierPublicKeys(join(p.keysDir, KEY_FILES.supplierPublic));
  const pseudonymKey = p.plantId !== undefined ? randomSecret() : undefined;
  try {
    const doc = buildProvisioning({
      cloudRing: ring,
      supplierKeys,
      now,
      ...(p.plantId !== undefined && pseudonymKey ? { plant: { id: p.plantId, pseudonymKey } } : {}),
    });
    // Without a plant section there is no secret in it, but one file mode keeps the rule simple.
    writeFileAtomic(out, JSON.stringify(doc, null, 2) + '\n', SECRET_MODE);
    return doc.plant ? { path: out, plant: { id: doc.plant.id, pseudonym: doc.plant.pseudonym } } : { path: out };
  } finally {
    wipe(pseudonymKey);
    for (const e of ring.entries) wipe(e.key.secretKey);
  }
}

/**
 * Generates the cloud's X25519 key pair and the supplier's Ed25519 key pair into `dir`, and a
 * provisioning file for `plantId` (or one without a plant section). Refuses to replace existing
 * key files unless `force`.
 */
export function generateSupplierKeys(p: { dir: string; plantId?: string; force?: boolean; now?: number }): KeygenResult {
  const dir = resolve(p.dir);
  const now = p.now ?? Date.now();
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new ConsoleError('BAD_REQUEST', `${dir} exists and is not a directory`);
  const paths = [
    KEY_FILES.cloudSecret,
    KEY_FILES.cloudPublic,
    KEY_FILES.supplierSecret,
    KEY_FILES.supplierPublic,
    KEY_FILES.provisioning,
  ].map((f) => join(dir, f));
  refuseOverwrite(paths, p.force ?? false);
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  const cloud = boxKeyPair();
  const supplier = signingKeyPair();
  const created = new Date(now).toISOString();
  const ring: KeyRing<CloudKeyPair> = createKeyRing(cloud.kid, { publicKey: cloud.publicKey, secretKey: cloud.secretKey });
  try {
    writeCloudKeyring(dir, ring, new Map([[cloud.kid, created]]));
    writeFileAtomic(
      join(dir, KEY_FILES.supplierSecret),
      JSON.stringify(supplierKeysFile(supplier, created, true), null, 2) + '\n',
      SECRET_MODE,
    );
    writeFileAtomic(
      join(dir, KEY_FILES.supplierPublic),
      JSON.stringify(supplierKeysFile(supplier, created, false), null, 2) + '\n',
      PUBLIC_MODE,
    );
  } finally {
    wipe(cloud.secretKey, supplier.secretKey);
  }
  const prov = writePlantProvisioning({
    keysDir: dir,
    out: join(dir, KEY_FILES.provisioning),
    force: true,
    now,
    ...(p.plantId !== undefined ? { plantId: p.plantId } : {}),
  });
  return {
    dir,
    files: [
      { path: join(dir, KEY_FILES.cloudSecret), mode: SECRET_MODE, secret: true },
      { path: join(dir, KEY_FILES.cloudPublic), mode: PUBLIC_MODE, secret: false },
      { path: join(dir, KEY_FILES.supplierSecret), mode: SECRET_MODE, secret: true },
      { path: join(dir, KEY_FILES.supplierPublic), mode: PUBLIC_MODE, secret: false },
      { path: prov.path, mode: SECRET_MODE, secret: prov.plant !== undefined, forPlant: true },
    ],
    keys: [
      {
        role: 'cloud-encryption',
        alg: 'x25519',
        kid: cloud.kid,
        fingerprint: fingerprint(cloud.publicKey, 'x25519'),
        publicKey: cloud.publicKey.toString('hex'),
      },
      {
        role: 'supplier-signing',
        alg: 'ed25519',
        kid: supplier.kid,
        fingerprint: fingerprint(supplier.publicKey, 'ed25519'),
        publicKey: supplier.publicKey.toString('hex'),
      },
    ],
    ...(prov.plant ? { plant: { ...prov.plant, provisioning: prov.path } } : {}),
  };
}

/** The keygen report for people: files, public keys and fingerprints, never a secret. */
export function formatKeygenReport(r: KeygenResult): string {
  const lines = [`Supplier keys written to ${r.dir}`, ''];
  const note = (f: KeygenResult['files'][number]): string =>
    f.forPlant ? '  (for the plant only)' : f.secret ? '  (secret: never leaves the supplier)' : '';
  for (const f of r.files) lines.push(`  ${f.mode.toString(8).padStart(4, '0')}  ${f.path}${note(f)}`);
  for (const k of r.keys) {
    lines.push(
      '',
      k.role === 'cloud-encryption' ? 'Cloud encryption key (X25519)' : 'Supplier signing key (Ed25519)',
      `  key id       ${k.kid}`,
      `  fingerprint  ${k.fingerprint}`,
    );
  }
  if (r.plant) {
    lines.push(
      '',
      `Plant ${r.plant.id}: pseudonym ${r.plant.pseudonym}`,
      `  give ${r.plant.provisioning} to the plant over a trusted channel; it holds the plant's pseudonym key.`,
    );
  } else {
    lines.push(
      '',
      `No --plant-id: ${r.files[4]?.path ?? KEY_FILES.provisioning} pins the cloud and supplier keys only; run "supplier-cloud provision" per plant.`,
    );
  }
  return lines.join('\n') + '\n';
}
