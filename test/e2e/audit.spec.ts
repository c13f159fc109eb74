import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, signIn, test, textOf } from './fixtures';
import { E2E_MAINT, ROOT } from './processes';

// Writes on and a maintenance account: the one who may change setpoints may also read the audit log.
test.use({ plantOptions: { writes: true, users: [E2E_MAINT] } });

const c = (v: number): string => `${v.toFixed(1)} °C`;

test('a setpoint write made in the UI appears on the audit page with before → after in words, and the kind filter narrows the list', async ({
  page,
  plant,
}) => {
  await page.goto(plant.console.url);
  await signIn(page, E2E_MAINT.name, E2E_MAINT.password);
  await page.getByTestId('machine-tile-im-1').click();
  await expect(page.getByTestId('setpoint-value-zone1-sp')).toHaveText(/^\d+\.\d °C$/);
  const before = Number(/^(-?\d+(?:\.\d+)?)/.exec(await textOf(page, 'setpoint-value-zone1-sp'))![1]);
  const target = before + 1;
  await page.getByTestId('setpoint-zone1-sp').getByRole('button', { name: 'Raise by 1.0 °C' }).click();
  await page.getByTestId('setpoint-set-zone1-sp').click();
  await page.getByTestId('confirm-write').click();
  await expect(page.getByTestId('write-outcome')).toHaveText(`Zone 1 setpoint is now ${c(target)} (read back from the device)`);
  // And one the console refuses, so the page shows a refusal with its reason too.
  // The input follows the value read back from the device: type only once it has settled.
  const input = page.getByTestId('setpoint-input-zone1-sp');
  await expect(input).toHaveValue(target.toFixed(1));
  await expect(async () => {
    await input.fill('250');
    await expect(input).toHaveValue('250', { timeout: 500 });
  }).toPass({ timeout: 10_000 });
  await page.getByTestId('setpoint-set-zone1-sp').click();
  await page.getByTestId('confirm-write').click();
  await expect(page.getByTestId('write-outcome')).toHaveText('Refused: 250.0 °C is above the maximum 240.0 °C');

  const nav = page.getByTestId('nav-audit');
  await expect.poll(async () => (await nav.boundingBox())?.height ?? 0).toBeGreaterThanOrEqual(44);
  await nav.click();
  const audit = page.getByTestId('audit-page');
  await expect(audit).toBeVisible();
  await expect(nav).toHaveAttribute('aria-current', 'page');

  const rows = audit.locator('tbody tr');
  const written = rows.filter({ hasText: `Zone 1 setpoint ${before.toFixed(1)} → ${c(target)}, read back ${c(target)}` });
  await expect(written).toHaveCount(1);
  await expect(written).toContainText('Setpoint written');
  await expect(written).toContainText(E2E_MAINT.name);
  await expect(written).toContainText('maintenance');
  await expect(written).toContainText('Moulding 1');
  await expect(written).toContainText(/\d+ s ago|\d+ min ago/);
  const refused = rows.filter({ hasText: 'REFUSED' });
  await expect(refused).toHaveCount(1);
  await expect(refused).toContainText(`Zone 1 setpoint to 250.0 °C REFUSED: 250.0 °C is above the maximum 240.0 °C`);
  // Newest first: the refusal came after the write.
  await expect(rows.first()).toContainText('REFUSED');
  const rowId = await written.getAttribute('data-testid');
  expect(rowId).toMatch(/^audit-row-\d+$/);

  const shots = join(ROOT, 'test-results/screenshots');
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'audit.png') });

  // Only acknowledgements: the writes leave the list.
  const ackChip = page.getByTestId('audit-filter-kind-alarm_ack');
  await ackChip.click();
  await expect(ackChip).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId(rowId!)).toHaveCount(0);
  await expect(rows.filter({ hasText: 'Setpoint written' })).toHaveCount(0);
  // Writes too: they come back, and nothing else but those two kinds is shown.
  await page.getByTestId('audit-filter-kind-write').click();
  await expect(page.getByTestId(rowId!)).toBeVisible();
  for (const kind of await audit.locator('tbody td.audit-kind').allTextContents())
    expect(['Setpoint written', 'Alarm acknowledged']).toContain(kind);

  // Another machine: the write is not on it.
  await page.getByTestId('audit-filter-machine').selectOption({ index: 2 });
  await expect(page.getByTestId(rowId!)).toHaveCount(0);
});
