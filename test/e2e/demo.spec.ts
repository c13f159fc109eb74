import { expect, test } from './fixtures';
import { startConsole } from './processes';

test('the embedded demo plant is marked SIMULATED', async ({ page }) => {
  const server = await startConsole({});
  try {
    await page.goto(server.url);
    const banner = page.getByTestId('banner-simulated');
    await expect(banner).toBeVisible();
    await expect(banner).toContainText('SIMULATED');
    // The demo's accounts are on the banner's help, and nowhere else.
    await expect(page.getByTestId('demo-accounts')).toHaveCount(0);
    await page.getByTestId('demo-accounts-toggle').click();
    await expect(page.getByTestId('demo-accounts')).toContainText('maintenance / maintenance-demo · maintenance');
    await expect(page.getByTestId('demo-accounts')).toContainText('support / support-demo · supplier-support');
    await page.getByTestId('demo-accounts-toggle').click();
    await expect(page.getByTestId('demo-accounts')).toHaveCount(0);
    await expect(page.locator('[data-testid^="machine-tile-"]').first()).toBeVisible();
    // Fixed: still in view on a scrolled machine page.
    await page.locator('[data-testid^="machine-tile-"]').first().click();
    await expect(page.getByTestId('machine-page')).toBeVisible();
    await page.getByTestId('app-body').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await expect(banner).toBeInViewport();
  } finally {
    // Leave the page before the server goes, so its reconnect attempts are not logged as errors.
    await page.goto('about:blank');
    await server.stop();
  }
});
