/**
 * One image transfer from the console into the module's partial file: an HTTP Range request
 * that continues the part, never a byte past the manifest's size (endless data), and aborted
 * when no byte comes for the stall timeout, when the average rate over a window falls below
 * the minimum (slow retrieval: a drip that never stalls), or at once when the module stops.
 * updater.ts decides about attempts, backoff and what follows.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConsoleError } from '../src-main/core/errors';
import { createImageVerifier, type FirmwareManifest, type FirmwareRefusal } from '../src-main/firmware';
import { consoleUrl, send, type ConsoleEndpoint } from './console-client';
import { readChunks } from './durable';
import { statePaths } from './module-state';

/** Why a download did not complete; `retry` says whether trying again can help. */
export type DownloadFailure = {
  ok: false;
  retry: boolean;
  /** `too_slow`: below the minimum rate; `aborted`: the module is stopping; `rolled_back`: this module left that release before. */
  code: 'stalled' | 'too_slow' | 'network' | 'http' | 'aborted' | 'rolled_back' | FirmwareRefusal;
  message: string;
};

/** How slow a transfer may be before it is aborted (and retried from where it stopped). */
export interface TransferLimits {
  /** No byte for this long aborts the transfer. */
  stallMs: number;
  /** Fewer bytes than this per second, averaged over `rateWindowMs`, abort it as `too_slow`. */
  minBytesPerSecond: number;
  rateWindowMs: number;
}

/** The defaults: 30 s without a byte, or less than 1 KiB/s over a minute. */
export const DEFAULT_TRANSFER_LIMITS: TransferLimits = { stallMs: 30_000, minBytesPerSecond: 1024, rateWindowMs: 60_000 };

/** The failure of a transfer or update the module ended because it is stopping. */
export const aborted = (): DownloadFailure => ({ ok: false, retry: false, code: 'aborted', message: 'The module is stopping' });

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
 * past `manifest.image.size`; aborts when no byte arrives for `stallMs`, when fewer than
 * `minBytesPerSecond` arrive over a rate window, and at once when `signal` aborts.
 */
export async function downloadImage(opts: {
  endpoint: ConsoleEndpoint;
  id: string;
  manifest: FirmwareManifest;
  part: string;
  limits: TransferLimits;
  signal?: AbortSignal;
  onProgress?: (received: number, total: number) => void;
}): Promise<{ ok: true; resumedFrom: number } | DownloadFailure> {
  const { stallMs, minBytesPerSecond, rateWindowMs } = opts.limits;
  if (opts.signal?.aborted) return aborted();
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
      timeoutMs: stallMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
      headers: { 'x-module-id': opts.endpoint.moduleId, ...(have > 0 ? { range: `bytes=${have}-` } : {}) },
    }));
  } catch (err) {
    if (opts.signal?.aborted) return aborted();
    return { ok: false, retry: true, code: 'network', message: (err as Error).message };
  }
  if (opts.signal?.aborted) {
    abort();
    return aborted();
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
      clearInterval(rate);
      opts.signal?.removeEventListener('abort', onAbort);
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      resolve(r);
    };
    const fail = (r: DownloadFailure): void => {
      abort();
      finish(r);
    };
    let stall = setTimeout(onStall, stallMs);
    function onStall(): void {
      fail({
        ok: false,
        retry: true,
        code: 'stalled',
        message: `No image byte arrived for ${stallMs} ms (${received} of ${total} bytes kept)`,
      });
    }
    // The average over each window: a drip just under the stall timeout is still slow retrieval.
    let windowStart = received;
    const rate = setInterval(() => {
      const need = Math.min(total - windowStart, Math.ceil((minBytesPerSecond * rateWindowMs) / 1000));
      if (received - windowStart < need)
        fail({
          ok: false,
          retry: true,
          code: 'too_slow',
          message: `${received - windowStart} image bytes arrived in ${rateWindowMs / 1000} s, below the minimum of ${minBytesPerSecond} bytes/s (${received} of ${total} bytes kept)`,
        });
      windowStart = received;
    }, rateWindowMs);
    function onAbort(): void {
      fail(aborted());
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    res.on('data', (chunk: Buffer) => {
      if (done) return;
      if (received + chunk.byteLength > total) {
        // Not a byte beyond the manifest's size is stored.
        fail({
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
      stall = setTimeout(onStall, stallMs);
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
