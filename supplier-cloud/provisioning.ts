/**
 * The plant provisioning file (docs/provisioning.md): what the supplier hands a plant so it can
 * pin the cloud's and the supplier's public keys, and know its own identifier and pseudonym key.
 * It holds the plant's pseudonym key, a secret shared by the plant and the supplier only.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConsoleError } from '../src-main/core/errors';
import {
  fingerprint,
  isIdentifier,
  isKeyId,
  isPseudonym,
  keyId,
  plantPseudonym,
  plantTopics,
  toHex,
  type KeyRing,
} from '../src-main/protocol';
import type { CloudKeyPair } from './keyfiles';

const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters');
const kid = z.string().refine(isKeyId, 'must be a key id (16 hex characters)');
const time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const ProvisioningSchema = z
  .object({
    v: z.literal(1),
    type: z.literal('plant-console/provisioning'),
    createdAt: z.string(),
    plant: z
      .object({
        id: z.string().refine(isIdentifier, 'must be 1–256 characters of well-formed text'),
        pseudonym: z.string().refine(isPseudonym, 'must be a pseudonym token'),
        pseudonymKey: hex32,
      })
      .strict()
      .optional(),
    cloud: z
      .object({
        current: kid,
        keys: z
          .array(z.object({ kid, alg: z.literal('x25519'), publicKey: hex32, fingerprint: z.string(), notAfter: time.nullable() }).strict())
          .min(1),
      })
      .strict(),
    supplier: z
      .object({
        keys: z.array(z.object({ kid, alg: z.literal('ed25519'), publicKey: hex32, fingerprint: z.string() }).strict()).min(1),
      })
      .strict(),
    topics: z.object({ up: z.string(), state: z.string(), down: z.string() }).strict().optional(),
  })
  .strict();
export type Provisioning = z.infer<typeof ProvisioningSchema>;

/** Builds a plant's provisioning document from the supplier's current public keys. */
export function buildProvisioning(p: {
  cloudRing: KeyRing<CloudKeyPair>;
  supplierKeys: { kid: string; publicKey: Uint8Array }[];
  plant?: { id: string; pseudonymKey: Uint8Array };
  now: number;
}): Provisioning {
  // Keys whose grace already ended would only be refused by the cloud: leave them out.
  const cloudKeys = p.cloudRing.entries.filter((e) => e.notAfter === null || e.notAfter >= p.now);
  const plant = p.plant
    ? { id: p.plant.id, pseudonym: plantPseudonym(p.plant.pseudonymKey, p.plant.id), pseudonymKey: toHex(p.plant.pseudonymKey) }
    : undefined;
  const topics = plant ? plantTopics(plant.pseudonym) : undefined;
  return {
    v: 1,
    type: 'plant-console/provisioning',
    createdAt: new Date(p.now).toISOString(),
    ...(plant ? { plant } : {}),
    cloud: {
      current: p.cloudRing.current,
      keys: cloudKeys.map((e) => ({
        kid: e.kid,
        alg: 'x25519' as const,
        publicKey: toHex(e.key.publicKey),
        fingerprint: fingerprint(e.key.publicKey, 'x25519'),
        notAfter: e.notAfter,
      })),
    },
    supplier: {
      keys: p.supplierKeys.map((k) => ({
        kid: k.kid,
        alg: 'ed25519' as const,
        publicKey: toHex(k.publicKey),
        fingerprint: fingerprint(k.publicKey, 'ed25519'),
      })),
    },
    ...(topics ? { topics: { up: `${topics.publishPrefix}#`, state: topics.state, down: topics.down } } : {}),
  };
}

/** The first inconsistency of a parsed provisioning document (ids vs keys, pseudonym vs key), or null. */
export function provisioningProblem(doc: Provisioning): string | null {
  for (const k of doc.cloud.keys)
    if (keyId(Buffer.from(k.publicKey, 'hex'), 'x25519') !== k.kid) return `cloud key id ${k.kid} is not the id of its public key`;
  if (!doc.cloud.keys.some((k) => k.kid === doc.cloud.current)) return `the current cloud key ${doc.cloud.current} is not listed`;
  for (const k of doc.supplier.keys)
    if (keyId(Buffer.from(k.publicKey, 'hex'), 'ed25519') !== k.kid) return `supplier key id ${k.kid} is not the id of its public key`;
  if (doc.plant && plantPseudonym(Buffer.from(doc.plant.pseudonymKey, 'hex'), doc.plant.id) !== doc.plant.pseudonym) {
    return `the plant pseudonym ${doc.plant.pseudonym} is not derived from plant ${doc.plant.id} with its pseudonym key`;
  }
  return null;
}

/** Reads and checks a provisioning file; throws CONFIG_INVALID naming the problem. */
export function readProvisioning(path: string): Provisioning {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (err) {
    throw new ConsoleError('CONFIG_UNREADABLE', `Cannot read provisioning file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = ProvisioningSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConsoleError(
      'CONFIG_INVALID',
      `Provisioning file ${path} is invalid at ${issue?.path.map(String).join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const problem = provisioningProblem(parsed.data);
  if (problem) throw new ConsoleError('CONFIG_INVALID', `Provisioning file ${path}: ${problem}`);
  return parsed.data;
}
