/**
 * A remote support session end to end, in two browser contexts against the demo plant in web
 * mode with sign-in required: without a grant the support account is refused; maintenance on
 * site grants a session and reads out the join code; the support person joins; the banner on
 * site names them, their scope, time left and page; they ask for a setpoint change; on site it
 * is confirmed with the PIN and written through the bounded path; everything is audited under
 * the session id; ending the session on site cuts the remote page off within a second.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { assertBuilt, freePort, health, Proc, ROOT, signInCookie, waitHealth } from './processes';

/** The SIMULATED demo plant's accounts (src-main/auth/demo.ts). */
const MAINT = { name: 'maintenance', password: 'maintenance-demo', pin: '2345' };
const SUPPORT = { name: 'support', password: 'support-demo' };

/**
 * Console messages that are not problems here: the meta-CSP notice, and the browser's own line
 * for a refused sign-in request (a 401/403/429 answer is the expected outcome of those steps).
 */
const IGNORED = [
  /The Content Security Policy directive 'frame-ancestors' is ignored when delivered via a <meta> element/,
  /Failed to load resource: the server responded with a status of (401|403|429)/,
];

function guard(page: Page, problems: string[], who: string): void {
  page.on('console', (m) => {
    if (m.type() === 'error' && !IGNORED.some((r) => r.test(m.text()))) problems.push(`${who} console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${who} pageerror: ${e.message}`));
}

async function signIn(page: Page, who: { name: string; password: string }, joinCode?: string): Promise<void> {
  await expect(page.getByTestId('login-screen')).toBeVisible();
  await page.getByTestId('login-name').fill(who.name);
  await page.getByTestId('login-password').fill(who.password);
  await page.getByTestId('login-join-code').fill(joinCode ?? '');
  await page.getByTestId('login-submit').click();
}

test('remote support: refused without a grant, joined with the code, watched on site, change confirmed on site, cut off at once', async ({
  browser,
}) => {
  assertBuilt();
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'pc-e2e-remote-'));
  const proc = new Proc(['bin/plant-console.js', 'serve', '--port', String(port), '--data-dir', dataDir, '--require-login']);
  const url = `http://127.0.0.1:${port}/`;
  const problems: string[] = [];
  let site: BrowserContext | null = null;
  let remote: BrowserContext | null = null;
  try {
    // With sign-in required, /healthz says only that the console runs; the machines need a session.
    await waitHealth(url, (h) => h.core === 'running', 'the console core', 60_000, proc);
    expect(await health(url)).toEqual({ core: 'running' });
    await waitHealth(
      url,
      (h) => h.machines.length === 3 && h.machines.every((m) => m.link.state === 'online'),
      'the demo plant',
      60_000,
      proc,
      await signInCookie(url, 'operator', 'operator-demo'),
    );
    site = await browser.newContext();
    remote = await browser.newContext();
    const onSite = await site.newPage();
    const away = await remote.newPage();
    guard(onSite, problems, 'site');
    guard(away, problems, 'remote');

    // Without a grant the support account is refused, with the reason.
    await away.goto(url);
    await signIn(away, SUPPORT);
    await expect(away.getByTestId('login-error')).toContainText('No remote session is granted to this account now');

    // On site, maintenance signs in and grants a session: apply scope, one machine.
    await onSite.goto(`${url}#/remote`);
    await signIn(onSite, MAINT);
    await expect(onSite.getByTestId('session-user')).toContainText('maintenance');
    await expect(onSite.getByTestId('remote-page')).toBeVisible();
    await onSite.getByTestId('grant-account').fill(SUPPORT.name);
    await onSite.getByTestId('grant-scope-apply').check();
    await onSite.getByTestId('grant-machine-im-1').check();
    await onSite.getByTestId('grant-submit').click();
    const code = ((await onSite.getByTestId('join-code').textContent()) ?? '').replace(/\s/g, '');
    expect(code).toMatch(/^\d{8}$/);
    await onSite.getByTestId('join-code-done').click();
    await expect(onSite.getByTestId('join-code')).toHaveCount(0);

    // The support person joins with account, password and the code read out by phone.
    await signIn(away, SUPPORT, code);
    await expect(away.getByTestId('login-screen')).toHaveCount(0);
    await expect(away.getByTestId('banner-remote-self')).toContainText('view and apply changes after on-site confirmation');

    // The banner on site: who, scope, machines, time left, page; not dismissible; End ≥ 44 px.
    const banner = onSite.getByTestId('banner-remote');
    await expect(banner).toContainText('REMOTE SUPPORT LIVE: support');
    await expect(banner).toContainText('Moulding 1');
    await expect(onSite.getByTestId('banner-remote-left')).toHaveText(/^(59|60) min left$/);
    await expect(onSite.getByTestId('banner-remote-page')).toHaveText('Overview');
    const end = onSite.getByTestId('remote-end-now');
    expect((await end.boundingBox())?.height ?? 0).toBeGreaterThanOrEqual(44);

    // Only the granted machine is theirs to see; they open it, and the site sees where they are.
    await expect(away.locator('[data-testid^="machine-tile-"]')).toHaveCount(1);
    await away.getByTestId('machine-tile-im-1').click();
    await expect(away.getByTestId('machine-name')).toHaveText('Moulding 1');
    await expect(onSite.getByTestId('banner-remote-page')).toHaveText('Machine Moulding 1');

    // They ask for a setpoint change: nothing is written yet.
    const panel = away.getByTestId('remote-request-panel');
    await expect(panel).toBeVisible();
    const nowText = (await away.getByTestId('remote-setpoint-zone1-sp').locator('.sp-value').textContent()) ?? '';
    const before = Number(/^(-?\d+\.\d) °C$/.exec(nowText.trim())?.[1]);
    expect(Number.isFinite(before)).toBe(true);
    const target = Math.round((before + 2) * 10) / 10;
    await away.getByTestId('remote-input-zone1-sp').fill(target.toFixed(1));
    await away.getByTestId('remote-request-zone1-sp').click();
    await expect(away.getByTestId('remote-own-pending')).toContainText(`from ${before.toFixed(1)} °C to ${target.toFixed(1)} °C`);

    // On site: old → new, confirmed with the PIN, written through the bounded path.
    const pending = onSite.getByTestId('remote-request-pending');
    await expect(pending).toContainText(
      `support asks: Set Zone 1 setpoint on Moulding 1 from ${before.toFixed(1)} °C to ${target.toFixed(1)} °C`,
    );
    const shots = join(ROOT, 'test-results/screenshots');
    mkdirSync(shots, { recursive: true });
    await onSite.screenshot({ path: join(shots, 'remote-banner.png') });
    if (process.env.UPDATE_SCREENSHOTS === '1')
      copyFileSync(join(shots, 'remote-banner.png'), join(ROOT, 'docs/screenshot-remote-banner.png'));
    await onSite.getByTestId('remote-confirm-pin').fill(MAINT.pin);
    await onSite.getByTestId('remote-confirm').click();
    await expect(onSite.getByTestId('remote-request-written')).toContainText(
      `written, read back ${target.toFixed(1)} °C (confirmed by maintenance)`,
    );
    await expect(away.getByTestId('remote-own-written')).toContainText(`written, read back ${target.toFixed(1)} °C`);
    await away.screenshot({ path: join(shots, 'remote-support-view.png') });

    // On site ends the session: the remote page is cut off within a second and says why.
    await end.click();
    await expect(away.getByTestId('session-ended')).toHaveText('Your session ended: ended on site by maintenance', { timeout: 1000 });
    await expect(away.getByTestId('machine-name')).toBeHidden();
    await expect(onSite.getByTestId('banner-remote')).toHaveCount(0);
    await away.screenshot({ path: join(shots, 'remote-ended.png') });

    // The session's summary, exported on site: who, when, pages viewed, changes asked for and done.
    const [download] = await Promise.all([
      onSite.waitForEvent('download'),
      onSite.getByTestId('grant-ended').getByTestId('grant-export').click(),
    ]);
    const summary = JSON.parse(readFileSync(await download.path(), 'utf8')) as {
      grant: { account: string; state: string; endReason: string };
      pages: { page: string }[];
      requests: { state: string; to: number; decidedBy: string }[];
      audit: { kind: string }[];
    };
    expect(summary.grant).toMatchObject({ account: 'support', state: 'ended', endReason: 'ended on site' });
    expect(summary.pages.map((p) => p.page)).toEqual(['#/', '#/machine/im-1']);
    expect(summary.requests).toEqual([expect.objectContaining({ state: 'written', to: target, decidedBy: 'maintenance' })]);
    expect(summary.audit.map((r) => r.kind)).toEqual(
      expect.arrayContaining(['remote_grant', 'remote_join', 'remote_action', 'write', 'remote_end']),
    );

    // Audited under the remote session's id: join, the page views, the request, its confirmation, the write, the end.
    const lines = execFileSync(
      process.execPath,
      [
        'bin/plant-console.js',
        'audit',
        'export',
        '--data-dir',
        dataDir,
        '--kind',
        'remote_grant,remote_join,remote_action,remote_end,write',
      ],
      {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; user: string | null; sessionId: string | null; detail: Record<string, unknown> });
    const joined = lines.find((r) => r.kind === 'remote_join' && r.detail.ok === true);
    expect(joined?.sessionId).toMatch(/^[0-9a-f]{32}$/);
    const session = lines
      .filter((r) => r.sessionId === joined?.sessionId)
      .map((r) => `${r.kind}:${String(r.detail.action ?? r.detail.outcome ?? '')}`);
    expect(session).toEqual(
      expect.arrayContaining([
        'remote_join:',
        'remote_action:view',
        'remote_action:request',
        'remote_action:confirm',
        'write:written',
        'remote_end:',
      ]),
    );
    expect(lines.find((r) => r.kind === 'write' && r.sessionId === joined?.sessionId)).toMatchObject({
      user: 'support',
      detail: { requested: target, readback: target },
    });
    expect(lines.find((r) => r.kind === 'remote_action' && r.detail.action === 'confirm')).toMatchObject({ user: 'maintenance' });
    expect(JSON.stringify(lines)).not.toContain(code);
    expect(problems).toEqual([]);
  } finally {
    await site?.close();
    await remote?.close();
    await proc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
