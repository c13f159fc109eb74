/**
 * Alarms end to end: real device agents, the console in web mode, Debian's chromium. The plant
 * gets profiles written by this test so that what alarms is certain: Packing 3's film tension
 * (normally 18–26 N) has a high alarm at 15 N and its jaw temperature (about 160 °C) a low alarm
 * at 170 °C, both without delay; the other machines keep only the implicit link-loss alarm.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { expect, signIn, test } from './fixtures';
import { ROOT, type E2eUser } from './processes';

/** Acknowledging needs a signed-in account: an operator's. */
const OPERATOR: E2eUser = { name: 'olga', password: 'olga e2e password', role: 'operator' };

const profile = (model: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(ROOT, 'profiles', `${model}.json`), 'utf8')) as Record<string, unknown>;

test.use({
  plantOptions: {
    users: [OPERATOR],
    profiles: {
      'pack-3': {
        ...profile('pk60'),
        alarms: [
          {
            id: 'tension-high',
            kind: 'high',
            point: 'tension',
            limit: 15,
            deadband: 1,
            delayS: 0,
            priority: 'high',
            message: 'Film tension too high',
          },
          {
            id: 'jaw-temp-low',
            kind: 'low',
            point: 'jaw-temp',
            limit: 170,
            deadband: 1,
            delayS: 0,
            priority: 'medium',
            message: 'Sealing jaw too cold',
          },
        ],
      },
      'im-1': { ...profile('im250'), alarms: [] },
      'press-2': { ...profile('hp200'), alarms: [] },
    },
  },
});

const TENSION = 'pack-3-tension-high';
const JAW = 'pack-3-jaw-temp-low';
const LINK = 'press-2-link-loss';

/** The header count's figures. */
async function headerCount(page: Page): Promise<string> {
  return ((await page.getByTestId('alarm-count').textContent()) ?? '').trim();
}

test('an alarm is listed, acknowledged, counted in the header, badged on its tile and shown on its machine page', async ({
  page,
  plant,
}) => {
  await page.goto(plant.console.url);
  await signIn(page, OPERATOR.name, OPERATOR.password);
  await expect(page.getByTestId('alarm-count')).toHaveText('2 alarms · 2 unacknowledged');
  await expect(page.getByTestId('alarm-count')).toHaveAttribute('data-priority', 'high');
  const badge = page.getByTestId('tile-alarm-badge-pack-3');
  await expect(badge).toContainText('HIGH');
  await expect(badge).toContainText('2 alarms · 2 unacknowledged');
  await expect(page.getByTestId('tile-alarm-badge-im-1')).toHaveCount(0);
  const shots = join(ROOT, 'test-results/screenshots');
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'alarms-overview.png'), animations: 'disabled' });

  await page.getByTestId('alarm-count').click();
  await expect(page).toHaveURL(/#\/alarms$/);
  const row = page.getByTestId(`alarm-row-${TENSION}`);
  await expect(row).toContainText('Packing 3');
  await expect(row).toContainText('Film tension too high');
  await expect(row).toContainText(/limit: above 15\.0\sN/);
  await expect(row).toContainText(/Raised \d+ s ago · \d\d:\d\d:\d\d/);
  await expect(page.getByTestId(`alarm-state-${TENSION}`)).toHaveText('ACTIVE · NOT ACKNOWLEDGED');
  await expect(page.getByTestId(`alarm-marker-${TENSION}`)).toBeVisible();
  // The marker blinks, unless the operator's system asks for reduced motion: then it stands still.
  const animation = (): Promise<string> => page.getByTestId(`alarm-marker-${TENSION}`).evaluate((el) => getComputedStyle(el).animationName);
  expect(await animation()).toBe('alarm-blink');
  await page.emulateMedia({ reducedMotion: 'reduce' });
  expect(await animation()).toBe('none');
  await page.emulateMedia({ reducedMotion: 'no-preference' });
  // Unacknowledged first, then by priority: the high alarm above the medium one.
  await expect(page.getByTestId('alarm-list').locator('li').first()).toHaveAttribute('data-testid', `alarm-row-${TENSION}`);

  const ack = page.getByTestId(`alarm-ack-${TENSION}`);
  expect((await ack.boundingBox())!.height).toBeGreaterThanOrEqual(44);
  await ack.click();
  await expect(page.getByTestId(`alarm-state-${TENSION}`)).toHaveText(/^ACTIVE · acknowledged by olga \d\d:\d\d$/);
  await expect(page.getByTestId(`alarm-marker-${TENSION}`)).toHaveCount(0);
  await expect(page.getByTestId(`alarm-ack-${TENSION}`)).toHaveCount(0);
  await expect(page.getByTestId('alarm-count')).toHaveText('2 alarms · 1 unacknowledged');
  // The medium alarm is now the most urgent one waiting, so it colours the header.
  await expect(page.getByTestId('alarm-count')).toHaveAttribute('data-priority', 'medium');
  await expect(page.getByTestId('alarm-list').locator('li').first()).toHaveAttribute('data-testid', `alarm-row-${JAW}`);
  const history = page.getByTestId('alarm-history');
  await expect(history).toContainText('Acknowledged → active, acknowledged');
  await expect(history).toContainText('olga');
  await expect(history).toContainText('Raised → active, not acknowledged');

  // A lost link raises the implicit alarm after 5 s; its return leaves it cleared but unacknowledged.
  const press = plant.agents.find((a) => a.spec.id === 'press-2')!;
  await press.kill();
  await expect(page.getByTestId(`alarm-state-${LINK}`)).toHaveText('ACTIVE · NOT ACKNOWLEDGED', { timeout: 30_000 });
  await expect(page.getByTestId(`alarm-row-${LINK}`)).toContainText('No connection to the machine');
  await press.restart();
  await expect(page.getByTestId(`alarm-state-${LINK}`)).toHaveText('CLEARED · NOT ACKNOWLEDGED', { timeout: 30_000 });
  await expect(page.getByTestId(`alarm-row-${LINK}`)).toContainText(/Cleared \d+ s ago/);
  await expect(page.getByTestId('alarm-count')).toHaveText('3 alarms · 2 unacknowledged');
  await expect(page.getByTestId('alarm-count')).toHaveAttribute('data-priority', 'high');
  await page.screenshot({ path: join(shots, 'alarms.png'), animations: 'disabled' });

  // The filter shows one machine's alarms.
  await page.getByTestId('alarm-filter-press-2').click();
  await expect(page.getByTestId('alarm-list').locator('li')).toHaveCount(1);
  await page.getByTestId('alarm-filter-all').click();
  await expect(page.getByTestId('alarm-list').locator('li')).toHaveCount(3);

  // The machine page lists the machine's alarms with the same rows and acknowledges there too.
  await page.goto(`${plant.console.url}#/machine/pack-3`);
  const section = page.getByTestId('machine-alarms');
  await expect(section.getByTestId(`alarm-row-${TENSION}`)).toBeVisible();
  await expect(section.getByTestId(`alarm-state-${TENSION}`)).toHaveText(/^ACTIVE · acknowledged by olga/);
  await expect(section.getByTestId(`alarm-state-${JAW}`)).toHaveText('ACTIVE · NOT ACKNOWLEDGED');
  await expect(section.getByTestId(`alarm-row-${LINK}`)).toHaveCount(0);
  await page.screenshot({ path: join(shots, 'alarms-machine.png'), animations: 'disabled' });
  await section.getByTestId(`alarm-ack-${JAW}`).click();
  await expect(section.getByTestId(`alarm-state-${JAW}`)).toHaveText(/^ACTIVE · acknowledged by olga/);
  await expect.poll(() => headerCount(page)).toBe('3 alarms · 1 unacknowledged');

  // Acknowledging the cleared link alarm returns it to normal: it leaves the list.
  await page.getByTestId('alarm-count').click();
  await page.getByTestId('alarm-ack-all').click();
  await expect(page.getByTestId(`alarm-row-${LINK}`)).toHaveCount(0);
  await expect(page.getByTestId('alarm-count')).toHaveText('2 alarms · all acknowledged');
  await expect(page.getByTestId('alarm-ack-all')).toBeDisabled();
  await page.getByTestId('nav-overview').click();
  await expect(page.getByTestId('tile-alarm-badge-pack-3')).toContainText('2 alarms · acknowledged');
  await expect(page.getByTestId('tile-alarm-badge-press-2')).toHaveCount(0);
});
