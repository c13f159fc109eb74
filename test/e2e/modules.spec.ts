/**
 * The Modules page in chromium against the console in web mode.
 *
 * 1. The page itself, against the SIMULATED demo console, whose modules.* and firmware.* calls
 *    and modules.update stream are answered by a scripted state in this file, so that every
 *    state is reached on purpose: read-only without sign-in; for maintenance a pending module's
 *    fingerprint and its pairing with the PIN, a bundle imported from a file (accepted, then a
 *    refused one with the reason in words), the approval dialog (matching modules with current →
 *    new, the plan in words, the PIN), the rollout with its download progress, and Stop with a
 *    required reason. It also takes the page's screenshot (docs/screenshots/modules.png with
 *    UPDATE_SCREENSHOTS=1).
 * 2. The whole loop (issue #8): a configured plant with a pinned root and device agents as
 *    modules; a bundle signed with the supplier's release keys is imported through the page,
 *    approved, the module updates and reports its new version; the tamper switch raises an alarm.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page, WebSocketRoute } from '@playwright/test';
import type { FirmwareRelease, ModuleView, ModulesState, Rollout } from '../../src-preload/contract';
import { encodeFirmwareImage } from '../../device-agent/firmware-image';
import { bundleOf, makeRelease, makeRoot, releaseKeys } from '../helpers/firmware-fixtures';
import { readRevision } from '../helpers/module-process';
import { expect, signIn, test } from './fixtures';
import { E2E_MAINT, ROOT, startConsole, startModulePlant } from './processes';

/** The SIMULATED demo plant's maintenance account (src-main/auth/demo.ts). */
const MAINT = { name: 'maintenance', password: 'maintenance-demo', pin: '2345' };
const MIN = 60_000;

function mod(now: number, p: Partial<ModuleView> & Pick<ModuleView, 'id'>): ModuleView {
  return {
    machineId: 'im-1',
    model: 'im250',
    pairing: 'paired',
    fingerprint: '3f1a 09bc 77d2 e410 5a6b 0c9d 1e2f 3a4b',
    health: 'ok',
    lastHeartbeatAt: now - 4000,
    version: '1.0.0',
    imageHash: 'ab'.repeat(64),
    knownRelease: true,
    slot: 'a',
    bootCount: 3,
    uptimeS: 7500,
    tamper: false,
    modbusClients: ['127.0.0.1'],
    update: { state: 'none', releaseId: null, version: null, transferred: 0, size: 0, message: null, since: null },
    history: [{ at: now - 9 * 86_400_000, version: '1.0.0', outcome: 'committed', message: 'health check passed' }],
    events: [],
    ...p,
  };
}

function release(now: number): FirmwareRelease {
  return {
    id: 'rel-110',
    models: ['im250'],
    version: '1.1.0',
    securityCounter: 2,
    size: 2_400_000,
    imageHash: 'cd'.repeat(64),
    created: now - 86_400_000,
    expires: now + 180 * 86_400_000,
    notes: 'Zone 2 heats up faster; fixes the cycle counter after a power cut.',
    signers: ['release-1', 'release-2'],
    threshold: 2,
    source: 'file',
    importedAt: now,
    importedBy: 'maintenance',
  };
}

/** A state with a healthy module, one whose enclosure is open, and one waiting for pairing. */
function startState(now: number): ModulesState {
  return {
    modules: [
      mod(now, { id: 'mod-im1', machineId: 'im-1' }),
      mod(now, {
        id: 'mod-pr2',
        machineId: 'press-2',
        model: 'hp200',
        health: 'alarm',
        tamper: true,
        version: '2.3.1',
        slot: 'b',
        events: [
          {
            id: 'ev1',
            moduleId: 'mod-pr2',
            machineId: 'press-2',
            kind: 'tamper',
            at: now - 3 * MIN,
            message: 'Enclosure opened',
            active: true,
          },
        ],
      }),
      mod(now, {
        id: 'mod-pk3',
        machineId: 'pack-3',
        model: 'pk60',
        pairing: 'pending',
        fingerprint: 'c0de 4a17 9e2b 77f0 1d3c 8b5a 6e09 f2d4',
        health: 'unknown',
        lastHeartbeatAt: null,
        version: null,
        slot: null,
        bootCount: null,
        uptimeS: null,
        history: [],
      }),
    ],
    releases: [],
    refused: [],
    rollouts: [],
    maintenanceWindow: { text: 'Sat 06:00–14:00', openNow: false },
    root: { version: 1, threshold: 2, keys: ['release-1', 'release-2', 'release-3'] },
    soakS: 600,
  };
}

/**
 * Answers modules.* and firmware.* on every WebSocket the page opens, and modules.update; passes
 * everything else to the real console. Actions change the state and are pushed, as the core does.
 */
async function scriptModules(page: Page, now: number) {
  let state = startState(now);
  const requests: { name: string; request: Record<string, unknown> }[] = [];
  const subscribed = new Set<WebSocketRoute>();
  const push = (): void => {
    for (const ws of subscribed) ws.send(JSON.stringify({ type: 'event', name: 'modules.update', payload: state }));
  };
  const setModule = (id: string, p: Partial<ModuleView>): ModuleView => {
    state = { ...state, modules: state.modules.map((m) => (m.id === id ? { ...m, ...p } : m)) };
    return state.modules.find((m) => m.id === id)!;
  };
  const answer = (name: string, req: Record<string, unknown>): unknown => {
    switch (name) {
      case 'modules.list':
        return state;
      case 'modules.pair':
        return setModule(
          String(req.moduleId),
          req.approve ? { pairing: 'paired', health: 'ok', lastHeartbeatAt: Date.now() } : { pairing: 'rejected' },
        );
      case 'firmware.import': {
        const text = Buffer.from(String(req.dataBase64), 'base64').toString();
        if (!text.includes('GOOD')) {
          const refused = {
            ref: `x${state.refused.length}`,
            at: Date.now(),
            source: 'file' as const,
            fileName: String(req.fileName),
            code: 'below_threshold' as const,
            message: 'Signed by 1 release key; 2 are needed.',
          };
          state = { ...state, refused: [refused, ...state.refused] };
          throw Object.assign(new Error('Not enough release keys signed it'), { code: 'FIRMWARE_REFUSED' });
        }
        const r = release(Date.now());
        state = { ...state, releases: [r, ...state.releases] };
        return r;
      }
      case 'firmware.approve': {
        const ids = req.moduleIds as string[];
        const r: Rollout = {
          id: 'ro-1',
          releaseId: String(req.releaseId),
          version: '1.1.0',
          moduleIds: ids,
          approvedBy: 'maintenance',
          approvedAt: Date.now(),
          state: 'first-module',
          message: null,
          soakS: 600,
        };
        state = { ...state, rollouts: [r, ...state.rollouts] };
        setModule(ids[0]!, {
          update: {
            state: 'downloading',
            releaseId: r.releaseId,
            version: '1.1.0',
            transferred: 960_000,
            size: 2_400_000,
            message: null,
            since: Date.now(),
          },
        });
        return r;
      }
      default: {
        const r: Rollout = { ...state.rollouts[0]!, state: 'stopped', message: String(req.reason) };
        state = { ...state, rollouts: [r] };
        return r;
      }
    }
  };
  await page.routeWebSocket(/\/api$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      const m = JSON.parse(typeof message === 'string' ? message : message.toString()) as {
        type: string;
        id?: number;
        name?: string;
        request?: Record<string, unknown>;
      };
      if (m.type === 'subscribe' && m.name === 'modules.update') {
        subscribed.add(ws);
        return;
      }
      if (m.type !== 'call' || !(m.name?.startsWith('modules.') || m.name?.startsWith('firmware.'))) {
        server.send(message);
        return;
      }
      const req = m.request ?? {};
      requests.push({ name: m.name, request: req });
      const send = (result: unknown): void => ws.send(JSON.stringify({ type: 'result', id: m.id, result }));
      // Pairing and approving change the plant: like the core, they want the demo maintenance PIN.
      if ((m.name === 'modules.pair' || m.name === 'firmware.approve') && req.pin !== MAINT.pin) {
        send({
          ok: false,
          error: req.pin ? { code: 'BAD_PIN', message: 'Wrong PIN: 4 more tries' } : { code: 'PIN_REQUIRED', message: 'Enter your PIN' },
        });
        return;
      }
      try {
        send({ ok: true, value: answer(m.name, req) });
        if (m.name !== 'modules.list') push();
      } catch (err) {
        send({ ok: false, error: { code: (err as { code?: string }).code ?? 'INTERNAL', message: (err as Error).message } });
        push();
      }
    });
    ws.onClose(() => subscribed.delete(ws));
  });
  // Web mode uploads bundles over HTTP (the WebSocket's frames stop at 64 KiB): answered here like the command.
  await page.route(/\/api\/firmware\?/, async (route) => {
    const r = route.request();
    const body = r.postDataBuffer() ?? Buffer.alloc(0);
    const req = { fileName: new URL(r.url()).searchParams.get('name') ?? '', dataBase64: body.toString('base64') };
    requests.push({ name: 'firmware.import', request: { fileName: req.fileName, bytes: body.length, type: r.headers()['content-type'] } });
    try {
      await route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ ok: true, value: answer('firmware.import', req) }),
      });
    } catch (err) {
      const error = { code: 'BAD_REQUEST', message: `Refused: ${(err as Error).message}` };
      await route.fulfill({ status: 422, contentType: 'application/json', body: JSON.stringify({ ok: false, error }) });
    }
    push();
  });
  return { requests, actions: () => requests.filter((r) => r.name !== 'modules.list') };
}

/** The browser's own console line for the refused upload's 422 is the answer the test expects, not a problem. */
function dropRefusalNotices(problems: string[]): void {
  for (let i = problems.length - 1; i >= 0; i--) if (/status of 422/.test(problems[i]!)) problems.splice(i, 1);
}

/** Every upload percentage the page shows, from now on (read with `seen`). */
async function recordUploadPercents(page: Page): Promise<{ seen(): Promise<number[]> }> {
  await page.evaluate(() => {
    const w = window as unknown as { __uploadPercents: number[] };
    w.__uploadPercents = [];
    new MutationObserver(() => {
      const el = document.querySelector('[data-testid="firmware-upload"]');
      const p = el?.getAttribute('data-percent');
      if (p != null && w.__uploadPercents.at(-1) !== Number(p)) w.__uploadPercents.push(Number(p));
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-percent'] });
  });
  return { seen: () => page.evaluate(() => (window as unknown as { __uploadPercents: number[] }).__uploadPercents) };
}

/** Limits the page's upload rate (Chromium's network emulation), so that progress has time to show; `stop` lifts it. */
async function throttleUploads(page: Page, bytesPerSecond: number): Promise<{ stop(): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const conditions = { offline: false, latency: 0, downloadThroughput: -1 };
  await cdp.send('Network.emulateNetworkConditions', { ...conditions, uploadThroughput: bytesPerSecond });
  return {
    async stop() {
      await cdp.send('Network.emulateNetworkConditions', { ...conditions, uploadThroughput: -1 });
      await cdp.detach();
    },
  };
}

/** Signs in through the header's Sign in button (the demo may be viewed without signing in). */
async function signInDemo(page: Page, who: { name: string; password: string }): Promise<void> {
  if (!(await page.getByTestId('login-screen').isVisible())) await page.getByTestId('sign-in').click();
  await page.getByTestId('login-name').fill(who.name);
  await page.getByTestId('login-password').fill(who.password);
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('session-user')).toContainText(who.name);
}

test('the page: read-only unsigned, pairing with the fingerprint, import, approve with the plan in words, stop', async ({
  page,
  problems,
}) => {
  const server = await startConsole({});
  try {
    const script = await scriptModules(page, Date.now());
    await page.goto(`${server.url}#/modules`);
    await expect(page.getByTestId('modules-page')).toBeVisible();
    await expect(page.getByTestId('nav-modules')).toHaveAttribute('aria-current', 'page');
    await expect(page.getByTestId('nav-modules-count')).toHaveText('2');
    await expect(page.getByTestId('modules-summary')).toHaveText('3 modules · 1 waiting for pairing · 2 paired, 1 needs attention');
    await expect(page.getByTestId('modules-window')).toHaveText('Sat 06:00–14:00, closed now');
    await expect(page.getByTestId('modules-root')).toHaveText('3 trusted, 2 must sign each release');

    // What each module says, in words; the open enclosure in alarm style.
    const im1 = page.getByTestId('module-mod-im1');
    await expect(im1.getByTestId('module-name')).toHaveText('Moulding 1');
    await expect(im1.getByTestId('module-health')).toHaveText('HEALTHY');
    await expect(im1.getByTestId('module-firmware')).toHaveText('1.0.0, signed release');
    await expect(im1.getByTestId('module-slot')).toHaveText('Slot A, 3 boots');
    await expect(im1.getByTestId('module-heartbeat')).toHaveText(/^\d+ s ago$/);
    await expect(im1.getByTestId('module-tamper')).toHaveText('closed');
    const pr2 = page.getByTestId('module-mod-pr2');
    await expect(pr2.getByTestId('module-health')).toHaveText('ALARM');
    await expect(pr2.getByTestId('module-tamper')).toHaveText('OPENED');
    await expect(pr2.getByTestId('module-tamper')).toHaveAttribute('data-alarm', 'true');
    await expect(pr2.getByTestId('module-event-tamper')).toContainText('Enclosure opened');
    const pk3 = page.getByTestId('module-mod-pk3');
    await expect(pk3.getByTestId('module-fingerprint').locator('.mod-fp-group')).toHaveText([
      'c0de',
      '4a17',
      '9e2b',
      '77f0',
      '1d3c',
      '8b5a',
      '6e09',
      'f2d4',
    ]);
    await expect(pk3.getByTestId('module-pair-how')).toContainText('Compare with the fingerprint the module shows, then approve.');

    // Without signing in: everything to read, nothing to press.
    await expect(page.getByTestId('modules-readonly')).toContainText('Read only: maintenance pairs modules and approves firmware updates.');
    await expect(page.getByTestId('module-approve')).toHaveCount(0);
    await expect(page.getByTestId('firmware-file')).toHaveCount(0);

    await signInDemo(page, MAINT);
    await expect(page.getByTestId('modules-readonly')).toHaveCount(0);

    // Import: a bundle signed by one key is refused with the reason; a good one is accepted.
    const file = page.getByTestId('firmware-file');
    await file.setInputFiles({ name: 'one-key.pcfw', mimeType: 'application/octet-stream', buffer: Buffer.from('BAD bundle') });
    const result = page.getByTestId('firmware-import-result');
    await expect(result).toHaveAttribute('data-result', 'refused');
    await expect(result.getByTestId('firmware-import-refusal')).toHaveText('Not enough release keys signed it');
    await expect(result.getByTestId('firmware-import-reason')).toHaveText('one-key.pcfw: Signed by 1 release key; 2 are needed.');
    dropRefusalNotices(problems);
    await expect(page.getByTestId('refused-list').getByRole('button')).toHaveCount(0);
    await file.setInputFiles({ name: 'im250-1.1.0.pcfw', mimeType: 'application/octet-stream', buffer: Buffer.from('GOOD bundle') });
    await expect(result).toHaveAttribute('data-result', 'accepted');
    await expect(result.getByTestId('firmware-import-signers')).toHaveText('Signed by 2 of 3 supplier release keys (2 needed)');
    await expect(result.getByTestId('firmware-import-models')).toHaveText('im250');
    expect(
      script
        .actions()
        .filter((r) => r.name === 'firmware.import')
        .map((r) => r.request),
    ).toEqual([
      { fileName: 'one-key.pcfw', bytes: 10, type: 'application/octet-stream' },
      { fileName: 'im250-1.1.0.pcfw', bytes: 11, type: 'application/octet-stream' },
    ]);
    // Said once, in the import panel: no second notice at the top of the page.
    await expect(page.getByTestId('modules-notice-text')).toHaveCount(0);
    await result.getByTestId('firmware-import-dismiss').click();

    // The screenshot: a paired module, one in alarm, a pending one, a release and a refused bundle.
    const shots = join(ROOT, 'test-results/screenshots');
    mkdirSync(shots, { recursive: true });
    await page.getByTestId('app-body').evaluate((el) => el.scrollTo(0, 0));
    await page.screenshot({ path: join(shots, 'modules.png') });
    if (process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(join(shots, 'modules.png'), join(ROOT, 'docs/screenshots/modules.png'));

    // Pairing with the PIN; a wrong one is said in the dialog.
    await pk3.getByTestId('module-approve').click();
    const pair = page.getByTestId('module-pair-dialog');
    await expect(pair).toContainText('Approve only if the module shows exactly this fingerprint.');
    await expect(pair.getByTestId('module-dialog-cancel')).toBeFocused();
    await pair.getByTestId('pin-input').fill('9999');
    await pair.getByTestId('module-pair-confirm').click();
    await expect(pair.getByTestId('pin-error')).toHaveText('Wrong PIN: 4 more tries');
    await pair.getByTestId('pin-input').fill(MAINT.pin);
    await pair.getByTestId('module-pair-confirm').click();
    await expect(pair).toHaveCount(0);
    await expect(page.getByTestId('modules-notice-text')).toHaveText(
      'Paired: Packing 3 (mod-pk3) is trusted now; its heartbeats are checked with its key.',
    );
    await expect(page.getByTestId('module-mod-pk3')).toHaveAttribute('data-pairing', 'paired');
    await expect(page.getByTestId('nav-modules-count')).toHaveText('1');

    // Approve: only modules of the release's model, current → new, the plan in words, the PIN.
    const rel = page.getByTestId('release-rel-110');
    await expect(rel.getByTestId('release-signers')).toContainText('Signed by 2 of 3 supplier release keys (2 needed)');
    for (const b of [rel.getByTestId('release-update'), page.getByTestId('firmware-import').locator('label')])
      expect((await b.boundingBox())?.height ?? 0).toBeGreaterThanOrEqual(44);
    await rel.getByTestId('release-update').click();
    const approve = page.getByTestId('firmware-approve-dialog');
    await expect(approve.locator('.mod-choice')).toHaveCount(1);
    await expect(approve.getByTestId('approve-module-mod-im1').locator('.mod-choice-name')).toHaveText('Moulding 1 (mod-im1)');
    await expect(approve.getByTestId('approve-module-mod-im1').locator('.mod-choice-change')).toHaveText('1.0.0 → 1.1.0');
    await expect(approve.getByTestId('firmware-approve-plan')).toHaveText(
      'The module is updated, then checked. Only inside the maintenance window (Sat 06:00–14:00, closed now) and while the machine is idle.',
    );
    await expect(approve.getByTestId('firmware-approve')).toBeDisabled();
    await approve.getByTestId('pin-input').fill(MAINT.pin);
    await page.screenshot({ path: join(shots, 'modules-approve.png') });
    await approve.getByTestId('firmware-approve').click();
    await expect(approve).toHaveCount(0);
    expect(script.actions().find((r) => r.name === 'firmware.approve')?.request).toEqual({
      releaseId: 'rel-110',
      moduleIds: ['mod-im1'],
      pin: MAINT.pin,
    });
    await expect(page.getByTestId('rollout-ro-1').getByTestId('rollout-state')).toHaveText('Updating Moulding 1 (mod-im1)');
    await expect(im1.getByTestId('module-update-text')).toHaveText('Downloading 1.1.0: 40 % (960.0 kB of 2.4 MB)');
    await expect(im1.getByTestId('module-progress')).toHaveAttribute('aria-valuenow', '40');

    // Stop needs a reason.
    await page.getByTestId('rollout-ro-1').getByTestId('rollout-stop').click();
    const stop = page.getByTestId('rollout-stop-dialog');
    await expect(stop.getByTestId('rollout-stop-confirm')).toBeDisabled();
    await stop.getByTestId('rollout-stop-reason').fill('Wrong machine, try next week');
    await stop.getByTestId('rollout-stop-confirm').click();
    await expect(stop).toHaveCount(0);
    await expect(page.getByTestId('rollout-ro-1').getByTestId('rollout-state')).toHaveText('Stopped: Wrong machine, try next week');
    await expect(page.getByTestId('rollout-ro-1').getByTestId('rollout-stop')).toHaveCount(0);
  } finally {
    // Leave the page before the server goes, so its reconnect attempts are not logged as errors.
    await page.goto('about:blank');
    await server.stop();
  }
});

/**
 * The builtin IM-250 profile read "between jobs": every state value is idle to the console, so an
 * approved update goes ahead at once (the simulated machine never stops on its own in a test's time,
 * and its agent takes no write to its automatic-mode coil).
 */
function im250BetweenJobs(): unknown {
  const profile = JSON.parse(readFileSync(join(ROOT, 'profiles/im250.json'), 'utf8')) as { points: { role?: string; states?: unknown }[] };
  for (const p of profile.points) if (p.role === 'state') p.states = { '0': 'idle', '1': 'idle', '2': 'idle' };
  return profile;
}

/** Issue #8's flow against the real module manager (src-main/modules) and device-agent in module mode. */
test('the whole loop: pair, import a bundle, approve, the module updates and reports its version; tamper raises an alarm', async ({
  page,
  problems,
}) => {
  test.setTimeout(180_000);
  const keys = releaseKeys(3);
  const root = makeRoot(keys, 2);
  // A real simulated image, padded (JSON allows trailing spaces) so that its upload takes a moment to watch.
  const image = Buffer.from(encodeFirmwareImage({ model: 'im250', version: '1.1.0' }));
  const padded = Buffer.concat([image, Buffer.alloc(60_000 - image.length, 0x20)]);
  const good = bundleOf(makeRelease({ version: '1.1.0', securityCounter: 2, models: ['im250'], imageBytes: padded }, keys.slice(0, 2)));
  const oneKey = bundleOf(makeRelease({ version: '1.2.0', securityCounter: 3, models: ['im250'] }, keys.slice(0, 1)));
  const plant = await startModulePlant({
    specs: [{ id: 'im-1', name: 'Moulding 1', model: 'im250', seed: 11, moduleId: 'mod-im1' }],
    root: root.bytes,
    users: [E2E_MAINT],
    profiles: { 'im-1': im250BetweenJobs() },
  });
  const bundle = (name: string, bytes: Uint8Array) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
  try {
    await page.goto(`${plant.console.url}#/modules`);
    await signIn(page, E2E_MAINT.name, E2E_MAINT.password);

    // Import: one signature is not enough; two of three are.
    const file = page.getByTestId('firmware-file');
    const result = page.getByTestId('firmware-import-result');
    await file.setInputFiles(bundle('one-key.pcfw', oneKey));
    await expect(result).toHaveAttribute('data-result', 'refused');
    await expect(result.getByTestId('firmware-import-refusal')).toHaveText('Not enough release keys signed it');
    dropRefusalNotices(problems);
    // Uploaded over HTTP (slowed down to be seen), with its progress in bytes and percent.
    const percents = await recordUploadPercents(page);
    const slow = await throttleUploads(page, 40_000);
    await file.setInputFiles(bundle('im250-1.1.0.pcfw', good));
    await expect(page.getByTestId('firmware-upload-text')).toHaveText(
      new RegExp(`^Uploading im250-1\\.1\\.0\\.pcfw: [\\d.]+ kB of ${(good.length / 1000).toFixed(1)} kB \\([1-9]\\d? %\\)$`),
    );
    await page.screenshot({ path: join(ROOT, 'test-results/screenshots/modules-upload.png') });
    await expect(result).toHaveAttribute('data-result', 'accepted');
    await slow.stop();
    const seen = await percents.seen();
    expect(seen.at(-1)).toBe(100);
    expect(seen.filter((p) => p > 0 && p < 100).length).toBeGreaterThan(0);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    await expect(result.getByTestId('firmware-import-signers')).toHaveText('Signed by 2 of 3 supplier release keys (2 needed)');
    await result.getByTestId('firmware-import-dismiss').click();

    // Pairing: the fingerprint the page shows is the one the module printed.
    const card = page.getByTestId('module-mod-im1');
    await expect(card).toHaveAttribute('data-pairing', 'pending');
    await expect(card.getByTestId('module-fingerprint')).toHaveAttribute(
      'aria-label',
      `Fingerprint ${await plant.modules[0]!.fingerprint()}`,
    );
    await card.getByTestId('module-approve').click();
    await page.getByTestId('module-pair-confirm').click();
    await expect(card).toHaveAttribute('data-pairing', 'paired');
    await expect(card.getByTestId('module-heartbeat')).toHaveText(/^\d+ s ago$/);
    await expect(card.getByTestId('module-firmware')).toHaveText('1.0.0, factory firmware');

    // Approve it for the module: current → new, the plan in words.
    await page.getByTestId('releases').getByTestId('release-update').click();
    const approve = page.getByTestId('firmware-approve-dialog');
    await expect(approve.getByTestId('approve-module-mod-im1').locator('.mod-choice-change')).toHaveText(/^1\.0\.0 → 1\.1\.0$/);
    await expect(approve.getByTestId('firmware-approve-plan')).toContainText(
      'At any time (the plant has no maintenance window), but only while the machine is idle.',
    );
    await approve.getByTestId('firmware-approve').click();
    await expect(approve).toHaveCount(0);
    await expect(page.getByTestId('modules-rollouts').locator('[data-testid^="rollout-"]').first()).toBeVisible();

    // The machine is between jobs (idle): the module downloads, installs, restarts into 1.1.0 and commits it.
    await expect(card.getByTestId('module-firmware')).toHaveText('1.1.0, signed release', { timeout: 90_000 });
    await expect(card.getByTestId('module-update')).toHaveAttribute('data-state', 'committed');
    await expect(page.getByTestId('modules-rollouts').locator('[data-testid="rollout-state"]').first()).toContainText('Done');

    // The enclosure is opened: the module says so, and the console raises an alarm.
    plant.modules[0]!.openEnclosure();
    await expect(card.getByTestId('module-tamper')).toHaveText('OPENED');
    await expect(card.getByTestId('module-event-tamper')).toBeVisible();
    await page.screenshot({ path: join(ROOT, 'test-results/screenshots/modules-loop.png') });
    await page.getByTestId('alarm-count').click();
    await expect(page.locator('[data-testid^="alarm-row-"]').filter({ hasText: /enclosure/i })).not.toHaveCount(0);
    // The machine itself reports the new firmware over Modbus (read last: a reader besides the console is itself an alarm).
    expect(await readRevision(plant.modules[0]!.port)).toBe('1.1.0');
  } finally {
    await page.goto('about:blank');
    await plant.stop();
  }
});
