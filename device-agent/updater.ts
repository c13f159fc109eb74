/**
 * The module's update client: fetches an approved release from its console over TLS and hands
 * it to the slots. TUF's threats shape it: the manifest comes first and is verified against the
 * module's own pinned root before a single image byte is fetched; the image is bounded by the
 * manifest's size (a response announcing or sending more is cut at once: endless data); a
 * transfer that stalls for `stallMs`, or runs slower than a minimum rate (slow retrieval: a drip
 * that stays under the stall timeout), is aborted and retried with backoff, so an update ends
 * within a bound set by the image's size; an interrupted transfer continues where it stopped
 * with an HTTP Range request, from a partial file kept in the state directory and named after
 * the image hash (so the bytes of one image are never continued with another's). The image is
 * checked against the manifest's hash after the transfer, and the slots verify everything once
 * more where it was written. Stopping (an AbortSignal) ends the transfer at once: after it, the
 * client writes nothing.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Backoff } from '../src-main/config/schema';
import { silentLogger, type Logger } from '../src-main/core/log';
import { verifyManifest } from '../src-main/firmware';
import { backoffDelay } from '../src-main/modbus/backoff';
import { exchangeJson, type ConsoleEndpoint } from './console-client';
import {
  aborted,
  checkDownloaded,
  DEFAULT_TRANSFER_LIMITS,
  downloadImage,
  partPath,
  type DownloadFailure,
  type TransferLimits,
} from './download';
import { pinnedRoot, readState, rolledBackFrom, statePaths } from './module-state';
import { installedOf, installRelease, SLOT_MAX_IMAGE_BYTES, type InstallResult, type Pause } from './slots';

export { checkDownloaded, DEFAULT_TRANSFER_LIMITS, downloadImage, partPath, type DownloadFailure, type TransferLimits } from './download';

const ManifestAnswerSchema = z
  .object({
    manifest: z.string().min(1).max(200_000),
    signatures: z
      .array(
        z
          .string()
          .min(1)
          .max(16 * 1024),
      )
      .min(1)
      .max(32),
  })
  .strict();

/** Progress of an update, as heartbeats report it. */
export interface UpdateProgress {
  state: 'idle' | 'downloading' | 'installing' | 'refused' | 'failed';
  version: string | null;
  received: number;
  total: number;
  error: string | null;
}

export interface UpdateOptions {
  dir: string;
  endpoint: ConsoleEndpoint;
  id: string;
  now: () => number;
  /** Stall timeout, minimum rate and its window (DEFAULT_TRANSFER_LIMITS where not given). */
  limits?: Partial<TransferLimits>;
  /** Aborts the transfer at once (the module is stopping); the partial file stays for the next start. */
  signal?: AbortSignal;
  /** Download attempts before giving up (default 5). */
  attempts?: number;
  backoff?: Backoff;
  pause?: Pause;
  onProgress?: (p: UpdateProgress) => void;
  logger?: Logger;
  /** Waits between attempts (tests inject a fast one). */
  sleep?: (ms: number) => Promise<void>;
}

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Fetches release `id` from the console, verifies it against the module's own root, downloads
 * the image (resuming, bounded, with stall timeouts, a minimum rate and backoff) and installs
 * it for trial. A release this module rolled back from is refused (`rolled_back`) before any
 * image byte moves. Once `signal` aborts nothing more is written.
 */
export async function fetchAndInstall(opts: UpdateOptions): Promise<InstallResult | DownloadFailure> {
  const log = opts.logger ?? silentLogger;
  const signal = opts.signal;
  const limits: TransferLimits = { ...DEFAULT_TRANSFER_LIMITS, ...opts.limits };
  const report = (p: UpdateProgress): void => opts.onProgress?.(p);
  const fail = (r: DownloadFailure, version: string | null): DownloadFailure => {
    if (r.code === 'aborted') return r;
    const error = `${r.code}: ${r.message}`.slice(0, 500);
    report({ state: r.retry || r.code === 'stalled' ? 'failed' : 'refused', version, received: 0, total: 0, error });
    return r;
  };
  let raw: unknown;
  try {
    raw = await exchangeJson(opts.endpoint, `/module/v1/firmware/${encodeURIComponent(opts.id)}/manifest`, {
      method: 'GET',
      timeoutMs: limits.stallMs,
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (signal?.aborted) return aborted();
    return fail({ ok: false, retry: true, code: 'network', message: (err as Error).message }, null);
  }
  if (signal?.aborted) return aborted();
  const answer = ManifestAnswerSchema.safeParse(raw);
  if (!answer.success)
    return fail(
      { ok: false, retry: false, code: 'malformed', message: 'The console answered the manifest request with something else' },
      null,
    );
  const manifestBytes = Buffer.from(answer.data.manifest, 'base64');
  const state = readState(opts.dir);
  // The console checked it; the module checks again, against its own root, before fetching the image.
  const v = verifyManifest({ manifest: manifestBytes, signatures: answer.data.signatures }, pinnedRoot(state), {
    now: opts.now(),
    model: state.model,
    installed: installedOf(state),
    maxImageBytes: SLOT_MAX_IMAGE_BYTES,
  });
  if (!v.ok) return fail({ ok: false, retry: false, code: v.code, message: v.message }, null);
  const manifest = v.manifest;
  const left = rolledBackFrom(state, manifest.image.blake2b512);
  if (left)
    return fail(
      {
        ok: false,
        retry: false,
        code: 'rolled_back',
        message: `Firmware ${manifest.version} was rolled back on this module (${left.reason}, ${new Date(left.at).toISOString()}); it is not installed again from the console: a newer release is, or an operator's device-agent install`,
      },
      manifest.version,
    );
  const part = partPath(opts.dir, manifest);
  mkdirSync(statePaths(opts.dir).downloads, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(statePaths(opts.dir).downloads)) {
    const path = join(statePaths(opts.dir).downloads, name);
    if (path !== part) rmSync(path, { force: true });
  }
  const backoff = opts.backoff ?? { initialDelayMs: 1000, maxDelayMs: 60_000, randomisationFactor: 0.2 };
  const sleep = opts.sleep ?? ((ms: number) => pause(ms, signal));
  const attempts = opts.attempts ?? 5;
  let last: DownloadFailure | null = null;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const got = await downloadImage({
      endpoint: opts.endpoint,
      id: opts.id,
      manifest,
      part,
      limits,
      ...(signal ? { signal } : {}),
      onProgress: (received, total) => report({ state: 'downloading', version: manifest.version, received, total, error: null }),
    });
    if (got.ok) {
      last = null;
      break;
    }
    last = got;
    if (got.code === 'aborted') return got;
    log.log('warn', 'device-agent: image download interrupted', { version: manifest.version, attempt, code: got.code, error: got.message });
    if (!got.retry) break;
    if (attempt < attempts) await sleep(backoffDelay(attempt, backoff));
    if (signal?.aborted) return aborted();
  }
  if (last) {
    if (!last.retry) rmSync(part, { force: true });
    return fail(last, manifest.version);
  }
  if (signal?.aborted) return aborted();
  const checked = checkDownloaded(part, manifest);
  if (!checked.ok) {
    rmSync(part, { force: true });
    return fail(checked, manifest.version);
  }
  report({ state: 'installing', version: manifest.version, received: manifest.image.size, total: manifest.image.size, error: null });
  // The install is not aborted half way: it is short, ordered for power loss, and the caller
  // waits for it before it lets the state directory go.
  const installed = await installRelease(
    opts.dir,
    { manifest: manifestBytes, signatures: answer.data.signatures, image: { path: part } },
    { now: opts.now, ...(opts.pause ? { pause: opts.pause } : {}) },
  );
  rmSync(part, { force: true });
  if (!installed.ok)
    report({
      state: 'refused',
      version: manifest.version,
      received: 0,
      total: 0,
      error: `${installed.code}: ${installed.message}`.slice(0, 500),
    });
  return installed;
}
