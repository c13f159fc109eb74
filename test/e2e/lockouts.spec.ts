/**
 * Sign-in lockouts managed by an administrator: failed sign-ins lock an operator out (here after
 * two, from this browser's address); the lockout is kept by the console, the admin sees it on
 * the audit page with where it came from and until when, lifts it after a plain-word question,
 * the audit log records both, and the operator signs in at once.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, signIn, test } from './fixtures';
import { E2E_ADMIN, ROOT, type E2eUser } from './processes';

const OLGA: E2eUser = { name: 'olga', password: 'olga e2e password', role: 'operator' };

test.use({ plantOptions: { users: [OLGA], access: { lockout: { afterFailures: 2, minutes: 10 } } } });

test('an admin sees a sign-in lockout on the audit page and lifts it; both are audited', async ({ page, plant, problems }) => {
  const url = plant.console.url;
  const login = (password: string) =>
    page.request.post(`${url}api/login`, { data: { name: OLGA.name, password }, headers: { Origin: url.replace(/\/$/, '') } });
  // Two wrong passwords: the first answered after its delay, the second locks olga from here.
  expect((await login('not olgas password')).status()).toBe(401);
  const locked = await login('still not hers');
  expect(locked.status()).toBe(429);
  expect(await locked.json()).toMatchObject({ code: 'LOCKED_OUT', message: 'Too many failed sign-ins: locked for 10 min' });
  expect((await login(OLGA.password)).status()).toBe(429);

  await page.goto(url);
  await signIn(page, E2E_ADMIN.name, E2E_ADMIN.password);
  await page.getByTestId('nav-audit').click();
  const panel = page.getByTestId('lockout-panel');
  const row = panel.getByTestId('lockout');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('olga at this console (127.0.0.1)');
  await expect(row).toContainText(/2 failed attempts · locked at \d\d:\d\d until \d\d:\d\d \(1?\d min left\)/);
  expect((await row.getByTestId('lockout-lift').boundingBox())?.height ?? 0).toBeGreaterThanOrEqual(44);
  await row.getByTestId('lockout-lift').click();
  await expect(row.getByTestId('lockout-question')).toHaveText(
    'Lift this lockout? Olga can sign in at this console (127.0.0.1) again at once; the failed attempts are forgotten. This is recorded in the audit log.',
  );
  const shots = join(ROOT, 'test-results/screenshots');
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'lockouts.png') });
  await row.getByTestId('lockout-confirm').click();
  await expect(panel.getByTestId('lockout-notice')).toHaveText('Lifted: olga at this console (127.0.0.1) may try again now.');
  await expect(panel.getByTestId('lockouts-none')).toBeVisible();

  // The audit log has the lockout and who lifted it (the page shows what was there when it opened).
  await page.reload();
  const rows = page.getByTestId('audit-page').locator('tbody tr');
  await expect(rows.filter({ hasText: 'Sign-in locked' })).toContainText('Locked for the account from 127.0.0.1');
  await expect(rows.filter({ hasText: 'Sign-in lock lifted' })).toContainText(E2E_ADMIN.name);

  // Olga gets in at once.
  expect((await login(OLGA.password)).status()).toBe(200);
  // The browser logs the refused requests (401, 429) itself: those are expected here.
  for (let i = problems.length - 1; i >= 0; i--) if (/status of 4(01|29)/.test(problems[i]!)) problems.splice(i, 1);
});
