/**
 * The provisioning file: what the supplier hands a plant so it can talk to the supplier cloud,
 * as `supplier-cloud keygen --plant-id ID` writes it:
 *
 *   { "v": 1, "type": "plant-console/provisioning", "createdAt": "…",
 *     "plant":    { "id": "<plant identifier>", "pseudonym": "<token>", "pseudonymKey": "<64 hex: secret>" },
 *     "cloud":    { "current": "<x25519 key id>", "keys": [{ "kid", "alg": "x25519", "publicKey": "<64 hex>", "notAfter": ms|null, … }] },
 *     "supplier": { "keys": [{ "kid", "alg": "ed25519", "publicKey": "<64 hex>", … }] } }
 *
 * Public keys only, except the pseudonym key of the `plant` section: with one, the file is a
 * secret (0600). Without a `plant` section the plant id comes from the config (`uplink.plantId`)
 * and the plant makes its own pseudonym key, kept in the encrypted store; its pseudonym (the ACL
 * prefix) is then read off the "What leaves this plant" page. Members this reader does not use
 * are ignored, so the supplier side may add some. Key ids are checked against their keys (§2).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { ConsoleError } from '../core/errors';
import { createKeyRing, fromHex, isIdentifier, isPseudonym, keyId, plantPseudonym, toHex, type KeyAlg, type KeyRing } from '../protocol';
import { writeFileAtomic } from '../store/files';

const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');
const keyRef = z.object({
  kid: z.string().regex(/^[0-9a-f]{16}$/, 'must be a key id (16 hex characters)'),
  publicKey: hex32,
  notAfter: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional(),
});

export const ProvisioningSchema = z
  .object({
    v: z.literal(1),
    type: z.literal('plant-console/provisioning'),
    createdAt: z.string().optional(),
    plant: z
      .object({
        id: z.string().refine(isIdentifier, 'must be 1–256 characters of well-formed text'),
        pseudonym: z.string().refine(isPseudonym, 'must be a pseudonym token'),
        pseudonymKey: hex32,
      })
      .optional(),
    cloud: z.object({ current: z.string(), keys: z.array(keyRef).min(1).max(32) }),
    supplier: z.object({ keys: z.array(keyRef).min(1).max(32) }),
  })
  .superRefine((p, ctx) => {
    const check = (keys: z.infer<typeof keyRef>[], alg: KeyAlg, path: string) =>
      keys.forEach((k, i) => {
        if (keyId(Buffer.from(k.publicKey, 'hex'), alg) !== k.kid) {
          ctx.addIssue({ code: 'custom', path: [path, 'keys', i, 'kid'], message: `is not the key id of this ${alg} public key` });
        }
      });
    check(p.cloud.keys, 'x25519', 'cloud');
    check(p.supplier.keys, 'ed25519', 'supplier');
    if (!p.cloud.keys.some((k) => k.kid === p.cloud.current)) {
      ctx.addIssue({ code: 'custom', path: ['cloud', 'current'], message: 'must be the kid of one of cloud.keys' });
    }
    if (p.plant && plantPseudonym(Buffer.from(p.plant.pseudonymKey, 'hex'), p.plant.id) !== p.plant.pseudonym) {
      ctx.addIssue({ code: 'custom', path: ['plant', 'pseudonym'], message: 'is not derived from plant.id with plant.pseudonymKey' });
    }
  });
export type Provisioning = z.infer<typeof ProvisioningSchema>;

/** Reads and checks a provisioning file; a ConsoleError (CONFIG_INVALID) names what is wrong. */
export function readProvisioning(path: string): { provisioning: Provisioning; warnings: string[] } {
  if (!existsSync(path)) throw new ConsoleError('CONFIG_UNREADABLE', `${path}: the uplink provisioning file does not exist`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConsoleError('CONFIG_INVALID', `${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const parsed = ProvisioningSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConsoleError(
      'CONFIG_INVALID',
      `${path}: ${issue?.path.map(String).join('.') || '(top level)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const warnings: string[] = [];
  if (parsed.data.plant !== undefined && process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
    warnings.push(`${path} holds the plant's secret pseudonym key but others can read it: chmod 600`);
  }
  return { provisioning: parsed.data, warnings };
}

/** Writes a provisioning file (0600, atomically): used by the demo plant and tests. */
export function writeProvisioning(path: string, p: Provisioning | Record<string, unknown>): void {
  ProvisioningSchema.parse(p);
  writeFileAtomic(path, JSON.stringify(p, null, 2) + '\n', { noClobber: false });
}

/** A provisioning document for the given keys (public halves, and the plant's pseudonym key when given). */
export function makeProvisioning(p: {
  plantId?: string;
  pseudonymKey?: Uint8Array;
  cloudPublicKeys: Uint8Array[];
  supplierPublicKeys: Uint8Array[];
  now?: number;
}): Provisioning {
  const cloud = p.cloudPublicKeys.map((k) => ({ kid: keyId(k, 'x25519'), alg: 'x25519', publicKey: toHex(k), notAfter: null }));
  const plant =
    p.plantId !== undefined && p.pseudonymKey
      ? { plant: { id: p.plantId, pseudonym: plantPseudonym(p.pseudonymKey, p.plantId), pseudonymKey: toHex(p.pseudonymKey) } }
      : {};
  return {
    v: 1,
    type: 'plant-console/provisioning',
    createdAt: new Date(p.now ?? Date.now()).toISOString(),
    ...plant,
    cloud: { current: cloud[cloud.length - 1]!.kid, keys: cloud },
    supplier: { keys: p.supplierPublicKeys.map((k) => ({ kid: keyId(k, 'ed25519'), alg: 'ed25519', publicKey: toHex(k) })) },
  };
}

/** The cloud keyring the provisioning file pins (the current key plus older ones in their grace). */
export function provisionedCloudRing(p: Provisioning): KeyRing<Buffer> {
  const current = p.cloud.keys.find((k) => k.kid === p.cloud.current)!;
  let ring = createKeyRing(current.kid, fromHex(current.publicKey, 32)!);
  const others = p.cloud.keys
    .filter((k) => k.kid !== current.kid)
    .map((k) => ({ kid: k.kid, key: fromHex(k.publicKey, 32)!, notAfter: k.notAfter ?? null }));
  ring = { ...ring, entries: [...others, ...ring.entries] };
  return ring;
}

/** The supplier Ed25519 keys the plant accepts cloud-key announcements from. */
export function provisionedSupplierKeys(p: Provisioning): Map<string, { publicKey: Buffer; notAfter: number | null }> {
  return new Map(p.supplier.keys.map((k) => [k.kid, { publicKey: fromHex(k.publicKey, 32)!, notAfter: k.notAfter ?? null }]));
}
