import { expect, test, textOf } from './fixtures';

test('a killed device agent turns its tile OFFLINE with a banner; the others keep updating; a restart brings it back', async ({
  page,
  plant,
}) => {
  const press = plant.agents.find((a) => a.spec.id === 'press-2')!;
  await page.goto(plant.console.url);
  await expect(page.getByTestId('machine-state-press-2')).toHaveText(/^(RUNNING|IDLE|FAULT)$/);
  await expect(page.getByTestId('banner-offline')).toHaveCount(0);

  await press.kill();
  await expect(page.getByTestId('machine-state-press-2')).toHaveText('OFFLINE', { timeout: 20_000 });
  await expect(page.getByTestId('banner-offline')).toHaveText('1 machine offline: Press 2');
  await expect(page.getByTestId('machine-tile-press-2')).toContainText(/last seen \d+ (s|min) ago/);
  // Stale values show a dash, never the last number as if live; the reason is a tap away.
  await expect(page.getByTestId('value-press-2-force')).toHaveText('—');
  const reasonBtn = page.getByTestId('machine-tile-press-2').locator('.reason-btn').first();
  await expect(reasonBtn).toHaveAttribute('title', /offline/i);
  await reasonBtn.click();
  await expect(page.getByTestId('machine-tile-press-2').locator('.reason-detail').first()).toContainText(/offline/i);
  await expect(page).toHaveURL(/#\/$|\/$/); // tapping the reason does not open the machine

  for (const id of ['value-im-1-zone1', 'value-pack-3-jaw-temp']) {
    const first = await textOf(page, id);
    await expect.poll(() => textOf(page, id), { message: `${id} keeps updating`, timeout: 20_000 }).not.toBe(first);
  }
  await expect(page.getByTestId('machine-state-im-1')).not.toHaveText('OFFLINE');

  await press.restart();
  await expect(page.getByTestId('machine-state-press-2')).toHaveText(/^(RUNNING|IDLE|FAULT)$/, { timeout: 30_000 });
  await expect(page.getByTestId('banner-offline')).toHaveCount(0);
  await expect(page.getByTestId('value-press-2-force')).toHaveText(/\d/);
});
