import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from './fixtures';
import { ROOT } from './processes';

const IM250_TRENDS = ['zone1', 'zone2', 'pressure', 'mould', 'energy'];

/** Number of vertices of the line drawn in a trend chart. */
async function linePoints(page: import('@playwright/test').Page, pointId: string): Promise<number> {
  return page.getByTestId(`trend-chart-${pointId}`).evaluate((el) => {
    const paths = [...el.querySelectorAll('path.recharts-line-curve')];
    return paths.reduce((n, p) => n + (p.getAttribute('d')?.match(/[ML]/g)?.length ?? 0), 0);
  });
}

test('a machine page shows trends, KPIs, link statistics and the point table with sensitivity badges', async ({ page, plant }) => {
  await page.goto(plant.console.url);
  await page.getByTestId('machine-tile-im-1').click();
  await expect(page).toHaveURL(/#\/machine\/im-1$/);
  await expect(page.getByTestId('machine-name')).toHaveText('Moulding 1');
  await expect(page.getByTestId('nav-machine')).toHaveAttribute('aria-current', 'page');
  await expect(page.getByTestId('machine-state-im-1')).toHaveText(/^(RUNNING|IDLE|FAULT)$/);
  await expect(page.getByTestId('link-stats')).toContainText('ONLINE');
  // Polls that ran long and skipped their next slot are counted (pollIntervalMs is start-to-start).
  await expect(page.getByTestId('link-overruns')).toHaveText(/^\d+( · 99 % on time within [\d.,]+ ms)?$/);
  await expect(page.getByTestId('kpis-shift')).toContainText('%');
  await expect(page.getByTestId('kpis-rolling')).toContainText('%');

  for (const id of IM250_TRENDS) {
    await expect(page.getByTestId(`trend-chart-${id}`)).toBeVisible();
    await expect.poll(() => linePoints(page, id), { message: `line of ${id}`, timeout: 20_000 }).toBeGreaterThan(3);
  }
  // The normal band is drawn behind the line where the profile has one.
  await expect(page.getByTestId('trend-chart-zone1').locator('.recharts-reference-area')).toHaveCount(1);
  await expect(page.getByTestId('trend-chart-energy').locator('.recharts-reference-area')).toHaveCount(0);
  await expect(page.getByTestId('kpi-history-chart')).toBeVisible();

  const table = page.getByTestId('point-table');
  await expect(table).toBeVisible();
  await expect(table.locator('tbody tr')).toHaveCount(18);
  await expect(page.getByTestId('sensitivity-serial')).toHaveText('LOCAL'); // unclassified: secure default
  await expect(page.getByTestId('sensitivity-zone1')).toHaveText('SEALED');
  await expect(page.getByTestId('sensitivity-energy')).toHaveText('PLAIN');
  await expect(page.getByTestId('point-row-zone2')).toContainText('words little');
  await expect(page.getByTestId('point-row-zone1')).toContainText(/0x[0-9A-F]{4} 0x[0-9A-F]{4}/);
  await expect(page.getByTestId('point-row-zone1')).toContainText('°C');
  await expect(page.getByTestId('point-row-zone1')).toContainText('GOOD');

  // A few seconds of line make the screenshot say something.
  await expect.poll(() => linePoints(page, 'zone1'), { timeout: 30_000 }).toBeGreaterThan(30);
  const shots = join(ROOT, 'test-results/screenshots');
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'machine.png') });
  if (process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(join(shots, 'machine.png'), join(ROOT, 'docs/screenshot-machine.png'));
});

test('the 15 min / 1 h toggle changes the trend range; back and reload keep the place', async ({ page, plant }) => {
  await page.goto(`${plant.console.url}#/machine/press-2`);
  await expect(page.getByTestId('machine-name')).toHaveText('Press 2');
  const grid = page.getByTestId('trend-grid');
  await expect(grid).toHaveAttribute('data-range', '15m');
  await expect(page.getByTestId('range-15m')).toHaveAttribute('aria-pressed', 'true');
  const ticks = async (): Promise<string[]> =>
    page.getByTestId('trend-chart-force').locator('.recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value').allTextContents();
  await expect.poll(async () => (await ticks()).length).toBeGreaterThan(2);
  const minutesApart = async (): Promise<number> => {
    const [a, b] = (await ticks()).map((t) => {
      const [h, m] = t.split(':').map(Number);
      return h! * 60 + m!;
    });
    return (b! - a! + 1440) % 1440;
  };
  expect(await minutesApart()).toBe(3);

  const btn = page.getByTestId('range-1h');
  const box = await btn.boundingBox();
  expect(box!.height).toBeGreaterThanOrEqual(44);
  await btn.click();
  await expect(grid).toHaveAttribute('data-range', '1h');
  await expect(btn).toHaveAttribute('aria-pressed', 'true');
  await expect.poll(minutesApart).toBe(10);
  await expect.poll(() => linePoints(page, 'force'), { timeout: 20_000 }).toBeGreaterThan(3);
  await page.getByTestId('range-15m').click();
  await expect(grid).toHaveAttribute('data-range', '15m');

  await page.reload();
  await expect(page.getByTestId('machine-name')).toHaveText('Press 2');
  await page.getByTestId('nav-overview').click();
  await expect(page.getByTestId('overview')).toBeVisible();
  await page.goBack();
  await expect(page.getByTestId('machine-name')).toHaveText('Press 2');
});
