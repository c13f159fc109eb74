import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, textOf } from './fixtures';
import { MACHINES, ROOT } from './processes';

/** A key value per machine that changes from poll to poll. */
const KEY_VALUE: Record<string, string> = { 'im-1': 'zone1', 'press-2': 'oil-temp', 'pack-3': 'jaw-temp' };

test('overview shows three machines whose key values change; no SIMULATED banner for a configured plant', async ({ page, plant }) => {
  await page.goto(plant.console.url);
  await expect(page.getByTestId('plant-name')).toHaveText('E2E Plant');
  await expect(page.locator('[data-testid^="machine-tile-"]')).toHaveCount(3);
  for (const m of MACHINES) {
    await expect(page.getByTestId(`machine-tile-${m.id}`)).toContainText(m.name);
    await expect(page.getByTestId(`machine-state-${m.id}`)).toHaveText(/^(RUNNING|IDLE|FAULT)$/);
  }
  for (const m of MACHINES) {
    const id = `value-${m.id}-${KEY_VALUE[m.id]}`;
    await expect(page.getByTestId(id)).toHaveText(/\d/);
    const first = await textOf(page, id);
    await expect.poll(() => textOf(page, id), { message: `${id} should change over time`, timeout: 20_000 }).not.toBe(first);
    expect(await textOf(page, id)).toMatch(/^-?[\d\u202f]+(\.\d+)? \S+/); // number with unit
  }
  await expect(page.getByTestId('banner-simulated')).toHaveCount(0);
  await expect(page.getByTestId('banner-connection')).toHaveCount(0);
  await expect(page.getByTestId('shift')).toContainText(/\d\d:\d\d–\d\d:\d\d/);
  await expect(page.getByTestId('clock')).toContainText(/\d\d:\d\d:\d\d/);
});

test('overview at 1366×768 fits without a vertical scrollbar and every target is at least 44 px', async ({ page, plant }) => {
  await page.goto(plant.console.url);
  await expect(page.locator('[data-testid^="machine-tile-"]')).toHaveCount(3);
  for (const m of MACHINES) await expect(page.getByTestId(`value-${m.id}-${KEY_VALUE[m.id]}`)).toHaveText(/\d/);
  const overflow = await page.evaluate(() => {
    const body = document.querySelector('[data-testid="app-body"]');
    return {
      doc: document.documentElement.scrollHeight - document.documentElement.clientHeight,
      body: body ? body.scrollHeight - body.clientHeight : 0,
      tiles: [...document.querySelectorAll('[data-testid^="machine-tile-"]')].map((t) => t.scrollHeight - t.clientHeight),
    };
  });
  expect(overflow.doc).toBeLessThanOrEqual(0);
  expect(overflow.body).toBeLessThanOrEqual(0);
  // Nothing is cut off inside a tile either.
  for (const o of overflow.tiles) expect(o).toBeLessThanOrEqual(0);

  const targets = page.locator('a[href], button, [role="button"], input, select');
  const n = await targets.count();
  expect(n).toBeGreaterThanOrEqual(4); // nav + three tiles
  for (let i = 0; i < n; i++) {
    const t = targets.nth(i);
    if (!(await t.isVisible())) continue;
    const box = await t.boundingBox();
    const label = (await t.getAttribute('aria-label')) ?? (await t.textContent());
    expect(box, `bounding box of ${label}`).not.toBeNull();
    expect(box!.width, `width of "${label}"`).toBeGreaterThanOrEqual(44);
    expect(box!.height, `height of "${label}"`).toBeGreaterThanOrEqual(44);
  }
  const tileBox = await page.getByTestId('machine-tile-im-1').boundingBox();
  expect(tileBox!.height).toBeGreaterThan(200);

  // Every run leaves its screenshot in test-results; the README's copy changes only on request.
  const shots = join(ROOT, 'test-results/screenshots');
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'overview.png') });
  if (process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(join(shots, 'overview.png'), join(ROOT, 'docs/screenshot-overview.png'));
});
