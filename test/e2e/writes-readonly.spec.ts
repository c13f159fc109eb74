import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { expect, test } from './fixtures';
import { ROOT } from './processes';

// The default config plant: writes off, the local caller an operator (as a configured plant starts).
test('setpoints and their limits show read-only, with the reason in words', async ({ page, plant }) => {
  await page.goto(`${plant.console.url}#/machine/im-1`);
  await expect(page.getByTestId('setpoint-readonly')).toHaveText(
    'Setpoint changes are turned off for this plant (writes.enabled in the configuration).',
  );
  await expect(page.getByTestId('setpoint-zone1-sp')).toContainText('180–240 °C, steps of at most 5 °C');
  await expect(page.getByTestId('setpoint-interlock-hold-sp')).toContainText('Only while idle');
  await expect(page.getByTestId('setpoint-value-zone1-sp')).toHaveText(/^\d+\.\d °C$/);
  await expect(page.getByTestId('setpoint-set-zone1-sp')).toHaveCount(0);
  await expect(page.getByTestId('setpoint-input-zone1-sp')).toHaveCount(0);
  await expect(page.getByTestId('undo-write')).toHaveCount(0);
  await expect(page.getByTestId('write-log')).toContainText('No setpoint changes on this machine yet.');
  const shots = join(ROOT, 'test-results/screenshots');
  mkdirSync(shots, { recursive: true });
  await page.getByTestId('setpoint-panel').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, 'writes-readonly.png') });
});
