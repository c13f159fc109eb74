import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { expect, signIn, test, textOf } from './fixtures';
import { E2E_MAINT, ROOT } from './processes';

// A plant that turned writes on, and a maintenance account that signs in: a worker of its own.
test.use({ plantOptions: { writes: true, users: [E2E_MAINT] } });

/** The number in "215.0 °C". */
async function valueOf(page: Page, testId: string): Promise<number> {
  const text = await textOf(page, testId);
  const m = /^(-?\d+(?:\.\d+)?) °C$/.exec(text);
  if (!m) throw new Error(`${testId} shows "${text}", not a temperature`);
  return Number(m[1]);
}

const c = (v: number): string => `${v.toFixed(1)} °C`;

test('a technician raises a zone setpoint by one step, confirms, reads the outcome and the log, undoes it, and a too-large value is refused', async ({
  page,
  plant,
}) => {
  await page.goto(plant.console.url);
  await signIn(page, E2E_MAINT.name, E2E_MAINT.password);
  await page.getByTestId('machine-tile-im-1').click();
  await expect(page.getByTestId('machine-name')).toHaveText('Moulding 1');

  const row = page.getByTestId('setpoint-zone1-sp');
  await expect(row).toContainText('Zone 1 setpoint');
  await expect(row).toContainText('180–240 °C, steps of at most 5 °C');
  await expect(page.getByTestId('setpoint-interlock-zone1-sp')).toHaveText(/In any machine state/);
  await expect(page.getByTestId('setpoint-interlock-hold-sp')).toHaveText(/^Only while idle — (met|NOT MET): the machine is /);
  await expect(page.getByTestId('setpoint-value-zone1-sp')).toHaveText(/^\d+\.\d °C$/);
  await expect(page.getByTestId('setpoint-readonly')).toHaveCount(0);
  const set = page.getByTestId('setpoint-set-zone1-sp');
  await expect.poll(async () => (await set.boundingBox())?.height ?? 0).toBeGreaterThanOrEqual(44);

  // One + step: 1 °C (a fifth of the largest step), stated old → new with the unit.
  const before = await valueOf(page, 'setpoint-value-zone1-sp');
  const target = before + 1;
  await row.getByRole('button', { name: 'Raise by 1.0 °C' }).click();
  const input = page.getByTestId('setpoint-input-zone1-sp');
  await expect(input).toHaveValue(target.toFixed(1));
  await set.click();
  await expect(page.getByTestId('write-sentence')).toHaveText(`Set Zone 1 setpoint from ${c(before)} to ${c(target)}?`);
  await expect(page.getByTestId('write-problems')).toHaveCount(0);
  await page.getByTestId('confirm-write').click();
  await expect(page.getByTestId('write-dialog')).toHaveCount(0);
  await expect(page.getByTestId('write-outcome')).toHaveText(`Zone 1 setpoint is now ${c(target)} (read back from the device)`);
  const log = page.getByTestId('write-log');
  await expect(log.locator('tbody tr').first()).toContainText(`${before.toFixed(1)} → ${target.toFixed(1)} → ${target.toFixed(1)} °C`);
  await expect(log.locator('tbody tr').first()).toContainText(E2E_MAINT.name);
  // An account without a PIN confirms with its sign-in: no keypad.
  await expect(page.getByTestId('pin-pad')).toHaveCount(0);
  await expect(log.locator('tbody tr').first()).toContainText('WRITTEN');
  await expect(page.getByTestId('setpoint-value-zone1-sp')).toHaveText(c(target));

  const shots = join(ROOT, 'test-results/screenshots');
  mkdirSync(shots, { recursive: true });
  await page.getByTestId('setpoint-panel').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, 'writes.png') });

  // Undo asks too, then restores the value read before the write.
  await page.getByTestId('undo-write').click();
  await expect(page.getByTestId('write-sentence')).toHaveText(`Undo: set Zone 1 setpoint from ${c(target)} back to ${c(before)}?`);
  await page.getByTestId('confirm-write').click();
  await expect(page.getByTestId('write-outcome')).toHaveText(`Undone: Zone 1 setpoint is now ${c(before)} (read back from the device)`);
  await expect(page.getByTestId('undo-write')).toHaveCount(0);
  await expect(log.locator('tbody tr').first()).toContainText('UNDONE');
  await expect(page.getByTestId('setpoint-value-zone1-sp')).toHaveText(c(before));

  // Cancel changes nothing.
  await expect(input).toHaveValue(before.toFixed(1));
  await input.fill((before + 2).toFixed(1));
  await set.click();
  await page.getByTestId('cancel-write').click();
  await expect(page.getByTestId('write-dialog')).toHaveCount(0);
  await expect(log.locator('tbody tr')).toHaveCount(2);

  // A typed value too far from the current one: the dialog warns, the console refuses with the reason.
  await input.fill((before + 8).toFixed(1));
  await set.click();
  await expect(page.getByTestId('write-problems')).toContainText('larger than the largest allowed step');
  await page.screenshot({ path: join(shots, 'writes-dialog.png') });
  await page.getByTestId('confirm-write').click();
  await expect(page.getByTestId('write-outcome')).toHaveText(
    'Refused: a change of 8.0 °C is larger than the largest allowed step of 5.0 °C',
  );
  await expect(log.locator('tbody tr').first()).toContainText('REFUSED');
  await expect(page.getByTestId('setpoint-value-zone1-sp')).toHaveText(c(before));

  // Above the maximum.
  await input.fill('250');
  await set.click();
  await page.getByTestId('confirm-write').click();
  await expect(page.getByTestId('write-outcome')).toHaveText('Refused: 250.0 °C is above the maximum 240.0 °C');
  await page.screenshot({ path: join(shots, 'writes-refused.png') });
});

test('switching Automatic mode off puts the machine to idle (what a firmware update waits for); on again, it runs', async ({
  page,
  plant,
}) => {
  await page.goto(plant.console.url);
  await signIn(page, E2E_MAINT.name, E2E_MAINT.password);
  await page.getByTestId('machine-tile-im-1').click();
  const state = page.getByTestId('machine-state-im-1');
  await expect(state).not.toHaveText('OFFLINE');
  await expect(page.getByTestId('setpoint-value-auto')).toHaveText('on');

  await page.getByTestId('setpoint-set-auto').click();
  await expect(page.getByTestId('write-sentence')).toContainText('Switch Automatic mode from on to off');
  await page.getByTestId('confirm-write').click();
  await expect(page.getByTestId('write-outcome')).toContainText('off');
  await expect(page.getByTestId('setpoint-value-auto')).toHaveText('off');
  await expect(state).toHaveText('IDLE');

  await page.getByTestId('setpoint-set-auto').click();
  await page.getByTestId('confirm-write').click();
  await expect(page.getByTestId('setpoint-value-auto')).toHaveText('on');
  await expect(state).not.toHaveText('IDLE', { timeout: 20_000 });
});
