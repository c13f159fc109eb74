/**
 * First start of a configured plant that has no account at all: the browser on the console
 * PC (loopback) gets "Create the administrator account" over everything, with the password
 * rules shown as one types and touch-sized fields; creating it signs the admin in, the audit
 * page shows the account and the configuration loaded at the first start; a second visit no
 * longer offers setup.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from './fixtures';
import { ROOT } from './processes';

test.use({ plantOptions: { accounts: false } });

const ADMIN = { name: 'anna', password: 'first admin password', pin: '2580' };

test('a plant without accounts asks for its administrator on the console PC, once', async ({ page, browser, plant, problems }) => {
  await page.goto(plant.console.url);
  const screen = page.getByTestId('setup-screen');
  await expect(screen).toBeVisible();
  await expect(screen.getByRole('heading', { name: 'Create the administrator account' })).toBeVisible();
  // Nothing of the plant is reachable behind it.
  await expect(page.getByTestId('app-body')).toHaveCount(0);

  const submit = page.getByTestId('setup-submit');
  for (const id of ['setup-name', 'setup-password', 'setup-password-again', 'setup-pin', 'setup-submit'])
    expect((await page.getByTestId(id).boundingBox())?.height ?? 0, id).toBeGreaterThanOrEqual(44);

  // The rules follow the typing; the button waits for all of them.
  await page.getByTestId('setup-name').fill('Anna');
  await page.getByTestId('setup-password').fill('short');
  await expect(page.getByTestId('setup-rule-name')).toHaveAttribute('data-ok', 'true');
  await expect(page.getByTestId('setup-rule-length')).toHaveAttribute('data-ok', 'false');
  await expect(page.getByTestId('setup-rule-length')).toContainText('at least 10 characters');
  await expect(submit).toBeDisabled();
  await page.getByTestId('setup-password').fill(ADMIN.password);
  await page.getByTestId('setup-password-again').fill(`${ADMIN.password}x`);
  await expect(page.getByTestId('setup-rule-length')).toHaveAttribute('data-ok', 'true');
  await expect(page.getByTestId('setup-rule-again')).toHaveAttribute('data-ok', 'false');
  await expect(submit).toBeDisabled();
  await page.getByTestId('setup-password-again').fill(ADMIN.password);
  await page.getByTestId('setup-pin').fill('1111');
  await expect(page.getByTestId('setup-pin-problem')).toHaveText('A PIN may not repeat one digit');
  await expect(submit).toBeDisabled();
  await page.getByTestId('setup-pin').fill(ADMIN.pin);
  await expect(page.getByTestId('setup-rule-again')).toHaveAttribute('data-ok', 'true');
  await expect(submit).toBeEnabled();

  // NIST SP 800-63B: the name, repetition and sequences are ruled out as one types ...
  const both = async (pw: string) => {
    await page.getByTestId('setup-password').fill(pw);
    await page.getByTestId('setup-password-again').fill(pw);
  };
  await both('Anna2024!!');
  await expect(page.getByTestId('setup-rule-not-name')).toHaveAttribute('data-ok', 'false');
  await expect(submit).toBeDisabled();
  await both('abcdefghijkl');
  await expect(page.getByTestId('setup-rule-not-name')).toHaveAttribute('data-ok', 'true');
  await expect(page.getByTestId('setup-rule-not-pattern')).toHaveAttribute('data-ok', 'false');
  await expect(submit).toBeDisabled();
  // ... and the console's list of common and breached passwords answers with its reason in the form.
  await both('Manchester');
  await submit.click();
  await expect(page.getByTestId('setup-error')).toContainText('list of common and breached passwords');
  await expect(screen).toBeVisible();
  // The browser logs the refused request (400) as an error of its own: that one is expected here.
  const refused = /status of 400 \(Bad Request\)/;
  await expect.poll(() => problems.some((p) => refused.test(p))).toBe(true);
  problems.splice(
    problems.findIndex((p) => refused.test(p)),
    1,
  );
  await both(ADMIN.password);
  // The reason was about that password: another one in the field no longer shows it.
  await expect(page.getByTestId('setup-error')).toHaveCount(0);

  const shots = join(ROOT, 'test-results/screenshots');
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'setup.png') });

  await submit.click();
  await expect(screen).toHaveCount(0);
  // Signed in as the new administrator, the plant behind.
  await expect(page.getByTestId('session-user')).toContainText(ADMIN.name);
  await expect(page.getByTestId('app-body')).toBeVisible();

  // The audit page has the account, marked as the first start's, and the configuration's first load.
  await page.getByTestId('nav-audit').click();
  const rows = page.getByTestId('audit-page').locator('tbody tr');
  await expect(rows.filter({ hasText: 'Account added' })).toContainText(`Account ${ADMIN.name} as admin, with PIN`);
  await expect(rows.filter({ hasText: 'Configuration loaded' })).toContainText('3 machines');

  // Another visit: an admin exists, nothing offers setup any more.
  const other = await browser.newContext();
  try {
    const second = await other.newPage();
    const sessions: Promise<unknown>[] = [];
    second.on('response', (r) => {
      if (new URL(r.url()).pathname === '/api/session') sessions.push(r.json());
    });
    await second.goto(plant.console.url);
    await expect.poll(() => sessions.length).toBeGreaterThanOrEqual(2);
    for (const body of await Promise.all(sessions)) expect(body).toMatchObject({ setupNeeded: false });
    await expect(second.getByTestId('app-body').or(second.getByTestId('login-screen')).first()).toBeVisible();
    await expect(second.getByTestId('setup-screen')).toHaveCount(0);
  } finally {
    await other.close();
  }
});
