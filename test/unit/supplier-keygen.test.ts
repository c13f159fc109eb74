/**
 * `supplier-cloud keygen` and `provision`: the files, their modes, what the provisioning file
 * pins, that nothing secret is printed, and that existing keys are never overwritten silently.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { boxKeyPair, fingerprint, keyId, plantPseudonym, signingKeyPairFromSecret } from '../../src-main/protocol';
import { runSupplierCloudCli } from '../../supplier-cloud/cli';
import { KEY_FILES, readCloudKeyring, readSupplierSigner } from '../../supplier-cloud/keyfiles';
import { readProvisioning } from '../../supplier-cloud/provisioning';
import { parseDuration } from '../../supplier-cloud/rotate';

let dir: string;

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runSupplierCloudCli(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const json = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const mode = (path: string): number => statSync(path).mode & 0o777;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pc-supplier-keys-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('supplier key files made by other tooling', () => {
  it('reads a cloud key file with exactly the required members of docs/provisioning.md, and refuses a mixed-up one', () => {
    const a = boxKeyPair();
    const b = boxKeyPair();
    const entry = (k: typeof a) => ({ kid: k.kid, publicKey: k.publicKey.toString('hex'), secretKey: k.secretKey.toString('hex') });
    const write = (doc: unknown) => {
      const path = join(dir, 'cloud-keys.secret.json');
      writeFileSync(path, JSON.stringify(doc));
      return path;
    };
    const minimal = { v: 1, type: 'supplier-cloud/cloud-keys', current: a.kid, keys: [entry(a)] };
    const ring = readCloudKeyring(write(minimal));
    expect(ring).toMatchObject({ current: a.kid, lastIssued: 0, entries: [{ kid: a.kid, notAfter: null }] });
    expect(ring.entries[0]!.key.secretKey.equals(a.secretKey)).toBe(true);
    // The optional members, as keygen writes them, are checked when present.
    const full = {
      ...minimal,
      lastIssued: 5,
      keys: [
        {
          ...entry(a),
          alg: 'x25519',
          fingerprint: fingerprint(a.publicKey, 'x25519'),
          createdAt: '2026-01-01T00:00:00.000Z',
          notAfter: null,
        },
      ],
    };
    expect(readCloudKeyring(write(full)).lastIssued).toBe(5);
    expect(() => readCloudKeyring(write({ ...minimal, keys: [{ ...entry(a), fingerprint: fingerprint(b.publicKey, 'x25519') }] }))).toThrow(
      /the fingerprint of [0-9a-f]{16} is not its public key's/,
    );
    expect(() => readCloudKeyring(write({ ...minimal, keys: [{ ...entry(a), secretKey: b.secretKey.toString('hex') }] }))).toThrow(
      /the secret key of [0-9a-f]{16} does not belong to its public key/,
    );
    expect(() => readCloudKeyring(write({ ...minimal, keys: [{ ...entry(a), comment: 'x' }] }))).toThrow(/invalid at keys\.0/);
    expect(() => readCloudKeyring(write({ current: a.kid, keys: [entry(a)] }))).toThrow(/invalid at v/);
  });
});

describe('supplier-cloud keygen', () => {
  it('writes secret files 0600 and public files 0644 whose key ids and fingerprints match the keys', async () => {
    const out = join(dir, 'keys');
    const r = await cli(['keygen', '--out', out, '--plant-id', 'acme-lyon-7']);
    expect(r.code).toBe(0);
    expect(mode(join(out, KEY_FILES.cloudSecret))).toBe(0o600);
    expect(mode(join(out, KEY_FILES.supplierSecret))).toBe(0o600);
    expect(mode(join(out, KEY_FILES.provisioning))).toBe(0o600);
    expect(mode(join(out, KEY_FILES.cloudPublic))).toBe(0o644);
    expect(mode(join(out, KEY_FILES.supplierPublic))).toBe(0o644);
    expect(mode(out)).toBe(0o700);

    const ring = readCloudKeyring(join(out, KEY_FILES.cloudSecret));
    expect(ring.entries).toHaveLength(1);
    const cloud = ring.entries[0]!;
    expect(cloud.kid).toBe(keyId(cloud.key.publicKey, 'x25519'));
    expect(cloud.notAfter).toBeNull();
    const cloudPublic = json(join(out, KEY_FILES.cloudPublic)) as { keys: Record<string, unknown>[] };
    expect(cloudPublic.keys[0]).toMatchObject({
      kid: cloud.kid,
      alg: 'x25519',
      publicKey: cloud.key.publicKey.toString('hex'),
      fingerprint: fingerprint(cloud.key.publicKey, 'x25519'),
    });
    expect(cloudPublic.keys[0]).not.toHaveProperty('secretKey');

    const supplier = readSupplierSigner(join(out, KEY_FILES.supplierSecret));
    expect(signingKeyPairFromSecret(supplier.secretKey).kid).toBe(supplier.kid);
    const supplierPublic = json(join(out, KEY_FILES.supplierPublic)) as { keys: Record<string, unknown>[] };
    expect(supplierPublic.keys[0]).toMatchObject({
      kid: supplier.kid,
      alg: 'ed25519',
      fingerprint: fingerprint(supplier.publicKey, 'ed25519'),
    });
    expect(supplierPublic.keys[0]).not.toHaveProperty('secretKey');

    // The report names key ids and fingerprints and never a secret.
    expect(r.out).toContain(cloud.kid);
    expect(r.out).toContain(fingerprint(supplier.publicKey, 'ed25519'));
    expect(r.out).not.toContain(cloud.key.secretKey.toString('hex'));
    expect(r.out).not.toContain(supplier.secretKey.toString('hex'));
    expect(r.out).not.toContain(supplier.secretKey.subarray(0, 32).toString('hex'));
  });

  it('writes a provisioning file that pins the cloud and supplier keys and gives the plant its id and pseudonym key', async () => {
    const out = join(dir, 'keys');
    expect((await cli(['keygen', '--out', out, '--plant-id', 'acme-lyon-7'])).code).toBe(0);
    const prov = readProvisioning(join(out, KEY_FILES.provisioning));
    const ring = readCloudKeyring(join(out, KEY_FILES.cloudSecret));
    const supplier = readSupplierSigner(join(out, KEY_FILES.supplierSecret));
    expect(prov.v).toBe(1);
    expect(prov.type).toBe('plant-console/provisioning');
    expect(prov.cloud.current).toBe(ring.current);
    expect(prov.cloud.keys).toEqual([
      {
        kid: ring.current,
        alg: 'x25519',
        publicKey: ring.entries[0]!.key.publicKey.toString('hex'),
        fingerprint: fingerprint(ring.entries[0]!.key.publicKey, 'x25519'),
        notAfter: null,
      },
    ]);
    expect(prov.supplier.keys).toEqual([
      {
        kid: supplier.kid,
        alg: 'ed25519',
        publicKey: supplier.publicKey.toString('hex'),
        fingerprint: fingerprint(supplier.publicKey, 'ed25519'),
      },
    ]);
    expect(prov.plant?.id).toBe('acme-lyon-7');
    expect(prov.plant?.pseudonymKey).toMatch(/^[0-9a-f]{64}$/);
    expect(prov.plant?.pseudonym).toBe(plantPseudonym(Buffer.from(prov.plant!.pseudonymKey, 'hex'), 'acme-lyon-7'));
    expect(prov.topics).toEqual({
      up: `pc/v1/${prov.plant!.pseudonym}/up/#`,
      state: `pc/v1/${prov.plant!.pseudonym}/state`,
      down: `pc/v1/${prov.plant!.pseudonym}/down`,
    });
    // No secret of the supplier or the cloud travels to the plant.
    const text = readFileSync(join(out, KEY_FILES.provisioning), 'utf8');
    expect(text).not.toContain(ring.entries[0]!.key.secretKey.toString('hex'));
    expect(text).not.toContain(supplier.secretKey.toString('hex'));
  });

  it('writes a provisioning file without a plant section when no --plant-id is given', async () => {
    const out = join(dir, 'keys');
    expect((await cli(['keygen', '--out', out])).code).toBe(0);
    const prov = readProvisioning(join(out, KEY_FILES.provisioning));
    expect(prov.plant).toBeUndefined();
    expect(prov.topics).toBeUndefined();
    expect(prov.cloud.keys).toHaveLength(1);
  });

  it('refuses to overwrite existing keys unless --force, and changes nothing when it refuses', async () => {
    const out = join(dir, 'keys');
    expect((await cli(['keygen', '--out', out, '--plant-id', 'p1'])).code).toBe(0);
    const before = readFileSync(join(out, KEY_FILES.cloudSecret), 'utf8');
    const provBefore = readFileSync(join(out, KEY_FILES.provisioning), 'utf8');
    const again = await cli(['keygen', '--out', out, '--plant-id', 'p1']);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/Refusing to overwrite existing key files.*--force/);
    expect(readFileSync(join(out, KEY_FILES.cloudSecret), 'utf8')).toBe(before);
    expect(readFileSync(join(out, KEY_FILES.provisioning), 'utf8')).toBe(provBefore);

    // One leftover file is enough to refuse (a half-finished earlier run).
    const other = join(dir, 'other');
    expect((await cli(['keygen', '--out', other])).code).toBe(0);
    rmSync(join(other, KEY_FILES.cloudSecret));
    expect((await cli(['keygen', '--out', other])).code).toBe(2);

    const forced = await cli(['keygen', '--out', out, '--plant-id', 'p1', '--force']);
    expect(forced.code).toBe(0);
    expect(readCloudKeyring(join(out, KEY_FILES.cloudSecret)).current).not.toBe(JSON.parse(before).current);
    expect(mode(join(out, KEY_FILES.cloudSecret))).toBe(0o600);
  });

  it('refuses an --out that is a file, and asks for --out', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    expect((await cli(['keygen', '--out', file])).err).toMatch(/not a directory/);
    const missing = await cli(['keygen']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--out is required/);
    expect((await cli(['keygen', '--bogus'])).code).toBe(2);
  });
});

describe('supplier-cloud provision', () => {
  it('writes a provisioning file for another plant with its own pseudonym key, and does not overwrite it', async () => {
    const keys = join(dir, 'keys');
    expect((await cli(['keygen', '--out', keys, '--plant-id', 'plant-a'])).code).toBe(0);
    const file = join(dir, 'plant-b.json');
    const r = await cli(['provision', '--keys', keys, '--plant-id', 'plant-b', '--out', file]);
    expect(r.code).toBe(0);
    expect(mode(file)).toBe(0o600);
    const a = readProvisioning(join(keys, KEY_FILES.provisioning));
    const b = readProvisioning(file);
    expect(b.plant?.id).toBe('plant-b');
    expect(b.plant?.pseudonymKey).not.toBe(a.plant?.pseudonymKey);
    expect(b.cloud).toEqual(a.cloud);
    expect(b.supplier).toEqual(a.supplier);
    expect(r.out).toContain(b.plant!.pseudonym);
    expect(r.out).not.toContain(b.plant!.pseudonymKey);
    expect((await cli(['provision', '--keys', keys, '--plant-id', 'plant-b', '--out', file])).code).toBe(2);
  });

  it('refuses a provisioning file whose pseudonym does not match its key', async () => {
    const keys = join(dir, 'keys');
    expect((await cli(['keygen', '--out', keys, '--plant-id', 'plant-a'])).code).toBe(0);
    const path = join(keys, KEY_FILES.provisioning);
    const doc = json(path) as { plant: { id: string } };
    doc.plant.id = 'plant-z';
    writeFileSync(path, JSON.stringify(doc));
    expect(() => readProvisioning(path)).toThrow(/not derived from plant plant-z/);
  });
});

describe('durations', () => {
  it('reads the grace period forms rotate-key takes', () => {
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1500ms')).toBe(1500);
    expect(() => parseDuration('1 day')).toThrow(/not a duration/);
  });
});
