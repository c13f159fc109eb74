/**
 * `supplier-cloud rotate-key`: a new cloud X25519 key, announced to plants signed by the
 * supplier's Ed25519 key (docs/uplink.md §10.1).
 *
 * Order matters: the key files are written first, so every receiver (they re-read the files)
 * opens batches sealed to the new key before any plant can use it; old keys stay in the file
 * with `notAfter` = now + grace. Then the announcement is published with QoS 1 and **retained**
 * on each plant's `pc/v1/<plant>/down`: a plant offline at rotation time, or installed later
 * from an older provisioning file, receives it when it subscribes. A plant that sees the
 * retained copy again answers it as a duplicate (same `issued`), which changes nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConsoleError } from '../src-main/core/errors';
import {
  announceCloudKey,
  announcementJson,
  boxKeyPair,
  fingerprint,
  parseJsonObject,
  plantTopics,
  pruneKeyRing,
  rotateKeyRing,
  wipe,
} from '../src-main/protocol';
import { brokerOptions, clientIdFor, connectOnce } from './broker';
import type { ResolvedReceiverConfig } from './config';
import {
  KEY_FILES,
  PUBLIC_MODE,
  cloudKeyCreationTimes,
  readCloudKeyring,
  readSupplierSigner,
  writeCloudKeyring,
  writeFileAtomic,
} from './keyfiles';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration like `90s`, `30m`, `24h`, `7d` (or `1500ms`). */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  const n = m ? Number(m[1]) * (UNITS[m[2] ?? ''] ?? NaN) : NaN;
  if (!Number.isSafeInteger(n)) throw new ConsoleError('BAD_REQUEST', `"${text}" is not a duration: use e.g. 90s, 30m, 24h or 7d`);
  return n;
}

/** Where an announcement went. */
export interface Publication {
  plant: string;
  pseudonym: string;
  topic: string;
}

/** What `rotate-key` did. */
export interface RotateResult {
  kid: string;
  fingerprint: string;
  previous: string;
  issued: number;
  graceUntil: number;
  /** Old keys removed because their grace had already ended. */
  pruned: string[];
  announcementPath: string;
  published: Publication[];
}

/** Publishes an announcement (wire text), retained with QoS 1, on the down topic of each plant. */
export async function publishAnnouncement(text: string, config: ResolvedReceiverConfig, plantIds?: string[]): Promise<Publication[]> {
  const plants = plantIds?.length
    ? plantIds.map((id) => {
        const p = config.plants.find((x) => x.id === id);
        if (!p) throw new ConsoleError('BAD_REQUEST', `Plant ${id} is not in the configuration's registry`);
        return p;
      })
    : config.plants;
  const client = await connectOnce(brokerOptions(config.broker, clientIdFor('sc-rotate'), { reconnectPeriod: 0, clean: true }));
  const published: Publication[] = [];
  try {
    for (const p of plants) {
      const topic = plantTopics(p.pseudonym).down;
      const ack = (await client.publishAsync(topic, text, { qos: 1, retain: true })) as { reasonCode?: number } | undefined;
      if ((ack?.reasonCode ?? 0) >= 128)
        throw new ConsoleError('UNAVAILABLE', `The broker refused the announcement on ${topic} (reason ${ack?.reasonCode}): check the ACL`);
      published.push({ plant: p.id, pseudonym: p.pseudonym, topic });
    }
  } finally {
    await client.endAsync();
  }
  return published;
}

/** Rotates the cloud key in `keysDir`, writes and (with `publish`) publishes the signed announcement. */
export async function rotateCloudKey(p: {
  keysDir: string;
  graceMs: number;
  now?: number;
  publish?: { config: ResolvedReceiverConfig; plantIds?: string[] };
}): Promise<RotateResult> {
  const now = p.now ?? Date.now();
  const ringPath = join(p.keysDir, KEY_FILES.cloudSecret);
  const ring = readCloudKeyring(ringPath);
  const createdAt = cloudKeyCreationTimes(ringPath);
  const supplier = readSupplierSigner(join(p.keysDir, KEY_FILES.supplierSecret));
  const pair = boxKeyPair();
  // Announcements are ordered by `issued`: a second rotation in the same millisecond still moves on.
  const issued = Math.max(now, ring.lastIssued + 1);
  const graceUntil = now + p.graceMs;
  const next = pruneKeyRing(
    rotateKeyRing(ring, pair.kid, { publicKey: pair.publicKey, secretKey: pair.secretKey }, graceUntil, issued),
    now,
  );
  const pruned = ring.entries.filter((e) => !next.entries.some((n) => n.kid === e.kid)).map((e) => e.kid);
  createdAt.set(pair.kid, new Date(now).toISOString());
  let text: string;
  try {
    writeCloudKeyring(p.keysDir, next, createdAt);
    text = announcementJson(announceCloudKey({ cloudPublicKey: pair.publicKey, issued, graceUntil, supplier }));
  } finally {
    wipe(supplier.secretKey, pair.secretKey);
    for (const e of ring.entries) wipe(e.key.secretKey);
  }
  const announcementPath = join(p.keysDir, KEY_FILES.announcement);
  writeFileAtomic(announcementPath, text + '\n', PUBLIC_MODE);
  let published: Publication[] = [];
  if (p.publish) {
    try {
      published = await publishAnnouncement(text, p.publish.config, p.publish.plantIds);
    } catch (err) {
      throw new ConsoleError(
        'UNAVAILABLE',
        `The new cloud key ${pair.kid} is in ${p.keysDir} and receivers accept it, but its announcement was not published (${(err as Error).message}). ` +
          `Publish it with "supplier-cloud rotate-key --republish --keys ${p.keysDir} --config FILE".`,
        { cause: err },
      );
    }
  }
  return {
    kid: pair.kid,
    fingerprint: fingerprint(pair.publicKey, 'x25519'),
    previous: ring.current,
    issued,
    graceUntil,
    pruned,
    announcementPath,
    published,
  };
}

/** Publishes the last announcement of `keysDir` again (after a failed publication, or to new plants). */
export async function republishAnnouncement(keysDir: string, config: ResolvedReceiverConfig, plantIds?: string[]): Promise<Publication[]> {
  const path = join(keysDir, KEY_FILES.announcement);
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConsoleError('CONFIG_UNREADABLE', `No announcement to publish in ${keysDir}: ${(err as Error).message}`, { cause: err });
  }
  if (!parseJsonObject(text, 64 * 1024)) throw new ConsoleError('CONFIG_INVALID', `${path} is not a JSON announcement`);
  return publishAnnouncement(text, config, plantIds);
}
