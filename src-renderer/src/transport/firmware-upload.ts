/**
 * Web mode's firmware import: the bundle file goes to the console as an HTTP upload
 * (FIRMWARE_UPLOAD_PATH, src-main/web/firmware-upload.ts), not over the WebSocket, whose frames
 * stop at 64 KiB. The browser streams the file from disk (it is never read into the page), the
 * session cookie goes along as for every request of this origin, and the upload reports its
 * progress. The answer is firmware.import's result envelope. In Electron the file goes over IPC
 * as the command's base64 instead (stores/modules.ts).
 */
import { FIRMWARE_UPLOAD_PATH } from '../../../src-preload/channels';
import type { FirmwareRelease, Result } from '../../../src-preload/contract';

/** Bytes sent so far of the whole file. */
export interface UploadProgress {
  sent: number;
  total: number;
}

/** What an upload needs of the chosen file (a DOM File; a named Blob in tests). */
export interface UploadFile {
  name: string;
  size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type FirmwareUploader = (file: UploadFile, onProgress: (p: UploadProgress) => void) => Promise<Result<FirmwareRelease>>;

/** The part of XMLHttpRequest the uploader uses (tests pass a fake). */
export interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  readonly upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  readonly status: number;
  readonly responseText: string;
}

const isResult = (x: unknown): x is Result<FirmwareRelease> =>
  typeof x === 'object' && x !== null && typeof (x as { ok?: unknown }).ok === 'boolean';

/** The upload over HTTP, for web mode; `createXhr` defaults to the browser's XMLHttpRequest. */
export function httpFirmwareUploader(createXhr: () => XhrLike = () => new XMLHttpRequest() as unknown as XhrLike): FirmwareUploader {
  return async (file, onProgress) => {
    const body = file instanceof Blob ? file : new Blob([await file.arrayBuffer()]);
    return new Promise((resolve) => {
      const xhr = createXhr();
      xhr.open('POST', `${FIRMWARE_UPLOAD_PATH}?name=${encodeURIComponent(file.name)}`);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.upload.onprogress = (e) => onProgress({ sent: e.loaded, total: e.lengthComputable ? e.total : file.size });
      xhr.onload = () => {
        let answer: unknown = null;
        try {
          answer = JSON.parse(xhr.responseText);
        } catch {
          // Not the console's answer (a proxy's error page): said with the status below.
        }
        if (isResult(answer)) resolve(answer);
        else resolve({ ok: false, error: { code: 'UNAVAILABLE', message: `the console answered the upload with HTTP ${xhr.status}` } });
      };
      xhr.onerror = () =>
        resolve({ ok: false, error: { code: 'UNAVAILABLE', message: 'the upload broke off: the console could not be reached' } });
      xhr.onabort = () => resolve({ ok: false, error: { code: 'UNAVAILABLE', message: 'the upload was cancelled' } });
      xhr.send(body);
    });
  };
}
