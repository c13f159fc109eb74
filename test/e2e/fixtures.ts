/**
 * Playwright fixtures: one config plant (three real device agents + the console in web mode)
 * per worker, and a guard on every page that fails the test on console errors, page errors
 * and CSP violations.
 */
import { test as base, expect, type Page } from '@playwright/test';
import { startConfigPlant, type ConfigPlant, type PlantOptions } from './processes';

export { expect };

/**
 * Chromium reports that `frame-ancestors` has no effect in a <meta> CSP. The directive is
 * required there by the design and is enforced by the server's CSP header; the notice is
 * not a violation.
 */
const IGNORED_CONSOLE = [/The Content Security Policy directive 'frame-ancestors' is ignored when delivered via a <meta> element/];

/**
 * Signs in through the UI: the header's Sign in when the plant is viewed without sign-in, or the
 * sign-in screen that covers it; resolves once the header names the account.
 */
export async function signIn(page: Page, name: string, password: string): Promise<void> {
  const screen = page.getByTestId('login-screen');
  const button = page.getByTestId('sign-in');
  await expect(screen.or(button).first()).toBeVisible();
  if (!(await screen.isVisible())) await button.click();
  await expect(screen).toBeVisible();
  await page.getByTestId('login-name').fill(name);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await expect(screen).toHaveCount(0);
  await expect(page.getByTestId('session-user')).toContainText(name);
}

/** Reads the text of a test id, trimmed. */
export async function textOf(page: Page, testId: string): Promise<string> {
  return ((await page.getByTestId(testId).first().textContent()) ?? '').trim();
}

export const test = base.extend<{ problems: string[] }, { plant: ConfigPlant; plantOptions: PlantOptions }>({
  // A file that needs another plant (writes on, a maintenance caller) sets this with test.use: it gets a worker of its own.
  plantOptions: [{}, { scope: 'worker', option: true }],
  plant: [
    async ({ plantOptions }, use) => {
      const plant = await startConfigPlant(plantOptions);
      try {
        await use(plant);
      } finally {
        await plant.stop();
      }
    },
    { scope: 'worker', timeout: 90_000 },
  ],
  problems: [
    async ({ page }, use) => {
      const problems: string[] = [];
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => {
          console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || '(inline)'}`);
        });
      });
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        if (IGNORED_CONSOLE.some((r) => r.test(m.text()))) return;
        problems.push(`console.error: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      await use(problems);
      expect(problems, 'console errors, page errors or CSP violations').toEqual([]);
    },
    { auto: true },
  ],
});
