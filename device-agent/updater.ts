/**
 * The module's update client: fetches an approved release from its console over TLS and hands
 * it to the slots. TUF's threats shape it: the manifest comes first and is verified against the
 * module's own pinned root before a single image byte is fetched; the image is bounded by the
 * manifest's size (a response announcing or sending more is cut at once: endless data); a
 * transfer that stalls for `stallMs` is aborted and retried with backoff (slow retrieval); an
 * interrupted transfer continues where it stopped with an HTTP Range request, from a partial
 * file kept in the state directory and named after the image hash (so the bytes of one image
 * are never continued with another's). The image is checked against the manifest's hash after
 * the transfer, and the slots verify everything once more where it was written.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { Backoff } from '../src-main/config/schema';
import { ConsoleError } from '../src-main/core/errors';
import { silentLogger, type Logger } from '../src-main/core/log';
import { createImageVerifier, verifyManifest, type FirmwareManifest, type FirmwareRefusal } from '../src-main/firmware';
import { backoffDelay } from '../src-main/modbus/backoff';
import { consoleUrl, exchangeJson, send, type ConsoleEndpoint } from './console-client';
import { readChunks } from './durable';
import { pinnedRoot, readState, statePaths } from './module-state';
import { installedOf, installRelease, SLOT_MAX_IMAGE_BYTES, type InstallResult, type Pause } from './slots';

/** Why a download did not complete; `retry` says whether trying again can help. */
export type DownloadFailure = { ok: false; retry: boolean; code: 'stalled' | 'network' | 'http' | FirmwareRefusal; message: string };

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

/** The path of the partial download of an image. */
export function partPath(dir: string, manifest: FirmwareManifest): string {
  return join(statePaths(dir).downloads, `${manifest.image.blake2b512.slice(0, 32)}.part`);
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Parses `Content-Range: bytes A-B/N` (N may be `*`). */
function contentRange(header: string | undefined): { start: number; end: number; total: number | null } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header ?? '');
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
}

/**
 * Downloads the image into `part`, continuing a partial file with a Range request. Never writes
 * past `manifest.image.size`; aborts when no byte arrives for `stallMs`.
 */
export async function downloadImage(opts: {
  endpoint: ConsoleEndpoint;
  id: string;
  manifest: FirmwareManifest;
  part: string;
  stallMs: number;
  onProgress?: (received: number, total: number) => void;
}): Promise<{ ok: true; resumedFrom: number } | DownloadFailure> {
  const total = opts.manifest.image.size;
  let have = sizeOf(opts.part);
  if (have > total) {
    rmSync(opts.part, { force: true });
    have = 0;
  }
  if (have === total) return { ok: true, resumedFrom: have };
  const url = consoleUrl(opts.endpoint.url, `/module/v1/firmware/${encodeURIComponent(opts.id)}/image`);
  let res;
  let abort: (err?: Error) => void;
  try {
    ({ res, abort } = await send(url, {
      method: 'GET',
      tls: opts.endpoint.tls,
      timeoutMs: opts.stallMs,
      headers: { 'x-module-id': opts.endpoint.moduleId, ...(have > 0 ? { range: `bytes=${have}-` } : {}) },
    }));
  } catch (err) {
    return { ok: false, retry: true, code: 'network', message: (err as Error).message };
  }
  const status = res.statusCode ?? 0;
  let start = have;
  if (status === 200) start = 0;
  else if (status === 206) {
    const range = contentRange(res.headers['content-range']);
    if (!range || range.start !== have || (range.total !== null && range.total !== total)) {
      abort();
      rmSync(opts.part, { force: true });
      return {
        ok: false,
        retry: true,
        code: 'http',
        message: `The console answered a range that does not continue the download (${res.headers['content-range'] ?? 'none'})`,
      };
    }
  } else {
    abort();
    return {
      ok: false,
      retry: status >= 500 || status === 429,
      code: 'http',
      message: `The console answered the image request with HTTP ${status}`,
    };
  }
  const announced = Number(res.headers['content-length'] ?? NaN);
  if (Number.isFinite(announced) && start + announced > total) {
    abort();
    return {
      ok: false,
      retry: false,
      code: 'image_too_large',
      message: `The console announces ${start + announced} image bytes; the manifest says ${total}`,
    };
  }
  mkdirSync(dirname(opts.part), { recursive: true, mode: 0o700 });
  const fd = openSync(opts.part, start === 0 ? 'w' : 'a', 0o600);
  let received = start;
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: { ok: true; resumedFrom: number } | DownloadFailure): void => {
      if (done) return;
      done = true;
      clearTimeout(stall);
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      resolve(r);
    };
    let stall = setTimeout(onStall, opts.stallMs);
    function onStall(): void {
      abort();
      finish({
        ok: false,
        retry: true,
        code: 'stalled',
        message: `No image byte arrived for ${opts.stallMs} ms (${received} of ${total} bytes kept)`,
      });
    }
    res.on('data', (chunk: Buffer) => {
      if (done) return;
      if (received + chunk.byteLength > total) {
        // Not a byte beyond the manifest's size is stored.
        abort();
        finish({
          ok: false,
          retry: false,
          code: 'image_too_large',
          message: `The console sent more than the ${total} bytes the manifest announces`,
        });
        return;
      }
      writeSync(fd, chunk);
      received += chunk.byteLength;
      opts.onProgress?.(received, total);
      clearTimeout(stall);
      stall = setTimeout(onStall, opts.stallMs);
    });
    const ended = (): void => {
      if (received === total) finish({ ok: true, resumedFrom: start });
      else finish({ ok: false, retry: true, code: 'network', message: `The transfer broke off after ${received} of ${total} bytes` });
    };
    res.once('end', ended);
    res.once('close', ended);
    res.once('error', (err) =>
      finish({ ok: false, retry: true, code: 'network', message: `${err.message} (${received} of ${total} bytes kept)` }),
    );
  });
}

/** Checks a downloaded file against the manifest (size and BLAKE2b-512). */
export function checkDownloaded(path: string, manifest: FirmwareManifest): { ok: true } | DownloadFailure {
  const check = createImageVerifier(manifest);
  try {
    readChunks(path, (chunk) => check.update(chunk));
  } catch (err) {
    if (err instanceof ConsoleError && err.code === 'FIRMWARE_IMAGE_TOO_LARGE')
      return { ok: false, retry: false, code: 'image_too_large', message: err.message };
    throw err;
  }
  const r = check.finish();
  return r.ok ? r : { ...r, retry: false };
}

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
  stallMs?: number;
  /** Download attempts before giving up (default 5). */
  attempts?: number;
  backoff?: Backoff;
  pause?: Pause;
  onProgress?: (p: UpdateProgress) => void;
  logger?: Logger;
  /** Waits between attempts (tests inject a fast one). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Fetches release `id` from the console, verifies it against the module's own root, downloads
 * the image (resuming, bounded, with stall timeouts and backoff) and installs it for trial.
 */
export async function fetchAndInstall(opts: UpdateOptions): Promise<InstallResult | DownloadFailure> {
  const log = opts.logger ?? silentLogger;
  const report = (p: UpdateProgress): void => opts.onProgress?.(p);
  const fail = (r: DownloadFailure, version: string | null): DownloadFailure => {
    report({ state: r.retry || r.code === 'stalled' ? 'failed' : 'refused', version, received: 0, total: 0, error: r.message });
    return r;
  };
  let raw: unknown;
  try {
    raw = await exchangeJson(opts.endpoint, `/module/v1/firmware/${encodeURIComponent(opts.id)}/manifest`, {
      method: 'GET',
      timeoutMs: opts.stallMs ?? 30_000,
    });
  } catch (err) {
    return fail({ ok: false, retry: true, code: 'network', message: (err as Error).message }, null);
  }
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
  const part = partPath(opts.dir, manifest);
  mkdirSync(statePaths(opts.dir).downloads, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(statePaths(opts.dir).downloads)) {
    const path = join(statePaths(opts.dir).downloads, name);
    if (path !== part) rmSync(path, { force: true });
  }
  const backoff = opts.backoff ?? { initialDelayMs: 1000, maxDelayMs: 60_000, randomisationFactor: 0.2 };
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const attempts = opts.attempts ?? 5;
  let last: DownloadFailure | null = null;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const got = await downloadImage({
      endpoint: opts.endpoint,
      id: opts.id,
      manifest,
      part,
      stallMs: opts.stallMs ?? 30_000,
      onProgress: (received, total) => report({ state: 'downloading', version: manifest.version, received, total, error: null }),
    });
    if (got.ok) {
      last = null;
      break;
    }
    last = got;
    log.log('warn', 'device-agent: image download interrupted', { version: manifest.version, attempt, error: got.message });
    if (!got.retry) break;
    if (attempt < attempts) await sleep(backoffDelay(attempt, backoff));
  }
  if (last) {
    if (!last.retry) rmSync(part, { force: true });
    return fail(last, manifest.version);
  }
  const checked = checkDownloaded(part, manifest);
  if (!checked.ok) {
    rmSync(part, { force: true });
    return fail(checked, manifest.version);
  }
  report({ state: 'installing', version: manifest.version, received: manifest.image.size, total: manifest.image.size, error: null });
  const installed = await installRelease(
    opts.dir,
    { manifest: manifestBytes, signatures: answer.data.signatures, image: { path: part } },
    { now: opts.now, ...(opts.pause ? { pause: opts.pause } : {}) },
  );
  rmSync(part, { force: true });
  if (!installed.ok) report({ state: 'refused', version: manifest.version, received: 0, total: 0, error: installed.message });
  return installed;
}
