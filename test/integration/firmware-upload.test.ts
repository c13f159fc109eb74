/**
 * Firmware import in web mode over HTTP (src-main/web/firmware-upload.ts), on a real socket: a
 * 20 MiB bundle from a signed-in maintenance account is streamed to a private file in the data
 * dir (seen there half-way, before the request ended) and imported by the same path as the
 * firmware.import command; refusals say why with their HTTP status and, once the caller may
 * import, are stored and audited as every refusal: not signed in, the wrong role, another site,
 * a form instead of the file, no name, over 32 MiB declared or streamed, a badly signed bundle.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIRMWARE_UPLOAD_MAX_BYTES, FIRMWARE_UPLOAD_PATH } from '../../src-preload/channels';
import { LOCAL_VIEWER } from '../../src-main/api/service';
import { startWebServer, type WebServer } from '../../src-main/web/server';
import { bundleOf, makeRelease } from '../helpers/firmware-fixtures';
import { PASSWORDS, setupPeople, type People } from '../helpers/people';
import { MAINT, moduleWorld, type World } from '../unit/modules-fixtures';

const dir = mkdtempSync(join(tmpdir(), 'pc-fw-upload-'));
const staticDir = join(dir, 'static');
const uploads = join(dir, 'data', 'uploads');
let w: World;
let people: People;
let web: WebServer;
let origin: string;

interface Reply {
  status: number;
  body: { ok: boolean; value?: Record<string, unknown>; error?: { code: string; message: string } };
}

/**
 * POSTs to the upload path. `body` is sent in 1 MiB writes (chunked when `length` is null);
 * `between` runs after `pauseAfter` bytes, before the rest is written.
 */
function upload(
  o: {
    body?: Uint8Array;
    name?: string | null;
    cookie?: string;
    type?: string;
    origin?: string | null;
    length?: number | null;
    pauseAfter?: number;
    between?: () => Promise<void>;
  } = {},
): Promise<Reply> {
  const body = o.body ?? new Uint8Array(0);
  const name = o.name === undefined ? 'im250-1.1.0.pcfw' : o.name;
  const headers: Record<string, string> = { 'Content-Type': o.type ?? 'application/octet-stream' };
  if (o.origin !== null) headers.Origin = o.origin ?? origin;
  if (o.cookie) headers.Cookie = o.cookie;
  const length = o.length === undefined ? body.byteLength : o.length;
  if (length !== null) headers['Content-Length'] = String(length);
  const path = `${FIRMWARE_UPLOAD_PATH}${name === null ? '' : `?name=${encodeURIComponent(name)}`}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: web.port, path, method: 'POST', headers }, (res: IncomingMessage) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Reply['body'] }));
    });
    // The answer may come before the whole body went (a refusal): writing on is then the client's own business.
    req.on('error', reject);
    void (async () => {
      const step = 1024 * 1024;
      for (let at = 0; at < body.byteLength; at += step) {
        if (o.between && o.pauseAfter !== undefined && at === o.pauseAfter) await o.between();
        if (!req.write(body.subarray(at, at + step))) await new Promise((r) => req.once('drain', r));
      }
      req.end();
    })().catch(reject);
  });
}

async function login(name: string, password: string): Promise<string> {
  const res = await fetch(`${origin}/api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: origin },
    body: JSON.stringify({ name, password }),
  });
  expect(res.status).toBe(200);
  return (res.headers.get('set-cookie') ?? '').split(';')[0]!;
}

const release = (version: string, signers: number, imageBytes?: Uint8Array) =>
  bundleOf(makeRelease({ version, securityCounter: 2, ...(imageBytes ? { imageBytes } : {}) }, w.keys.slice(0, signers)));

beforeAll(async () => {
  w = moduleWorld();
  people = await setupPeople({ api: { modules: w.manager } });
  mkdirSync(staticDir);
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Plant Console</title>');
  web = await startWebServer({
    api: people.api,
    core: people.core,
    host: '127.0.0.1',
    port: 0,
    staticDir,
    log: people.log,
    auth: people.auth,
    caller: LOCAL_VIEWER,
    firmwareUploadDir: uploads,
  });
  origin = `http://127.0.0.1:${web.port}`;
});

afterAll(async () => {
  await web?.close();
  await people?.close();
  w?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('firmware upload over HTTP', () => {
  it('streams a 20 MiB bundle to the data dir and imports it as the command does', async () => {
    const cookie = await login('maint', PASSWORDS.maint);
    const image = randomBytes(20 * 1024 * 1024);
    const bundle = release('1.1.0', 2, image);
    let seen = 0;
    const r = await upload({
      body: bundle,
      cookie,
      pauseAfter: 10 * 1024 * 1024,
      // Half-way, the first half is on disk in a private file, not in the console's memory.
      between: async () => {
        for (;;) {
          const part = readdirSync(uploads).filter((f) => f.endsWith('.part'));
          seen = part.length === 1 ? statSync(join(uploads, part[0]!)).size : 0;
          if (seen >= 10 * 1024 * 1024) {
            expect(statSync(join(uploads, part[0]!)).mode & 0o777).toBe(0o600);
            return;
          }
          await new Promise((res) => setTimeout(res, 10));
        }
      },
    });
    expect(seen).toBe(10 * 1024 * 1024);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, value: { version: '1.1.0', size: image.byteLength, source: 'file', importedBy: 'maint' } });
    expect(w.manager.state(MAINT).releases.map((x) => x.version)).toEqual(['1.1.0']);
    expect(w.audit.at(-1)).toMatchObject({
      kind: 'firmware_imported',
      user: 'maint',
      detail: { version: '1.1.0', fileName: 'im250-1.1.0.pcfw' },
    });
    expect(statSync(uploads).mode & 0o777).toBe(0o700);
    expect(readdirSync(uploads)).toEqual([]);
  });

  it('refuses with the reason, and stores and audits what a person who may import sent', async () => {
    const maint = await login('maint', PASSWORDS.maint);
    const oper = await login('oper', PASSWORDS.oper);
    const small = release('1.2.0', 2);
    const expectRefused = async (r: Promise<Reply>, status: number, code: string, message: RegExp): Promise<void> => {
      const got = await r;
      expect({ status: got.status, code: got.body.error?.code }).toEqual({ status, code });
      expect(got.body.error?.message).toMatch(message);
    };
    const audited = w.audit.length;
    await expectRefused(upload({ body: small }), 401, 'UNAUTHENTICATED', /^Sign in as maintenance or admin to import firmware$/);
    await expectRefused(upload({ body: small, cookie: oper }), 403, 'FORBIDDEN', /^Role "operator" may not call firmware.import$/);
    await expectRefused(upload({ body: small, cookie: maint, origin: 'http://evil.example' }), 403, 'FORBIDDEN', /other sites/);
    await expectRefused(
      upload({ body: small, cookie: maint, type: 'multipart/form-data; boundary=x' }),
      415,
      'BAD_REQUEST',
      /application\/octet-stream/,
    );
    await expectRefused(upload({ body: small, cookie: maint, name: null }), 400, 'BAD_REQUEST', /Name the file/);
    // None of these was a person's import: nothing stored, nothing audited.
    expect(w.audit.length).toBe(audited);
    expect(w.manager.state(MAINT).refused).toEqual([]);

    // Too large, declared: refused before a byte is stored.
    const big = new Uint8Array(FIRMWARE_UPLOAD_MAX_BYTES + 1);
    await expectRefused(
      upload({ body: big, cookie: maint, name: 'huge.pcfw' }),
      413,
      'BAD_REQUEST',
      /^Refused: .*The bundle has 33554433 bytes; at most 33554432 are imported from the console's pages/,
    );
    expect(w.manager.state(MAINT).refused[0]).toMatchObject({ code: 'image_too_large', fileName: 'huge.pcfw' });
    // Too large, streamed without a length: cut off at the limit.
    await expectRefused(
      upload({ body: big, cookie: maint, name: 'chunked.pcfw', length: null }),
      413,
      'BAD_REQUEST',
      /more than 33554432 bytes; at most 33554432 are imported from the console's pages; larger bundles go with "plant-console firmware import FILE"/,
    );
    expect(w.manager.state(MAINT).refused[0]).toMatchObject({ code: 'image_too_large', fileName: 'chunked.pcfw' });
    // Signed by one key where two are needed: the library's refusal, as for the command.
    await expectRefused(upload({ body: release('1.3.0', 1), cookie: maint, name: 'one-key.pcfw' }), 422, 'BAD_REQUEST', /^Refused: /);
    expect(w.manager.state(MAINT).refused[0]).toMatchObject({ code: 'below_threshold', fileName: 'one-key.pcfw' });
    expect(w.audit.slice(audited).map((e) => [e.kind, e.user, e.detail?.code])).toEqual([
      ['firmware_refused', 'maint', 'image_too_large'],
      ['firmware_refused', 'maint', 'image_too_large'],
      ['firmware_refused', 'maint', 'below_threshold'],
    ]);
    expect(existsSync(uploads) && readdirSync(uploads)).toEqual([]);
  });
});
