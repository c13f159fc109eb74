/**
 * The recommendations inbox in chromium against the SIMULATED demo plant in web mode.
 *
 * 1. The page itself: the demo console is real (sign-in, plant info, session, machines), and
 *    only the reco.* calls and the reco.update stream of its WebSocket are answered by a
 *    scripted inbox (reco-inbox.ts), so every state of the page is reached on purpose: read-only
 *    without sign-in, a recommendation arriving live (header count), Apply with every change
 *    old → new, one unit and the PIN, the result and the measured outcome, a guard breach and
 *    "Put the old values back", Reject with a required reason, Defer, the refused list without
 *    any button. It also takes the page's screenshot (docs/screenshots/recommendations.png
 *    with UPDATE_SCREENSHOTS=1).
 * 2. The whole loop (issue #7): the reference supplier cloud of the demo plant sends a signed
 *    recommendation with a short window, maintenance applies it, the machine page shows the
 *    new setpoint, the outcome appears; a forged one shows in the refused list only.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, signIn, test } from './fixtures';
import { ROOT, startConsole, waitHealth } from './processes';
import { reco, scriptInbox } from './reco-inbox';

const run = promisify(execFile);

/** The SIMULATED demo plant's accounts (src-main/auth/demo.ts). */
const MAINT = { name: 'maintenance', password: 'maintenance-demo', pin: '2345' };

test('the inbox: read-only unsigned, apply with confirmation and PIN, outcome, revert, reject, defer, refused never actionable', async ({
  page,
}) => {
  const server = await startConsole({});
  try {
    const now = Date.now();
    const script = await scriptInbox(page, now);
    await page.goto(`${server.url}#/recommendations`);
    await expect(page.getByTestId('reco-page')).toBeVisible();
    await expect(page.getByTestId('nav-recommendations')).toHaveAttribute('aria-current', 'page');
    await expect(page.getByTestId('nav-reco-count')).toHaveText('1');

    // Without signing in: everything to read, nothing to press.
    const pending = page.getByTestId('reco-r-new');
    await expect(pending.getByTestId('reco-status')).toHaveText('WAITING FOR A DECISION');
    await expect(page.getByTestId('reco-readonly')).toContainText('Read only: maintenance decides');
    await expect(page.getByTestId('reco-apply')).toHaveCount(0);
    await expect(page.getByTestId('reco-revert')).toHaveCount(0);

    // What a recommendation says, in words.
    await expect(pending.getByTestId('reco-machine')).toHaveText('Moulding 1');
    await expect(pending.getByTestId('reco-change-zone1-sp')).toContainText('Zone 1 setpoint');
    await expect(pending.getByTestId('reco-change-zone1-sp')).toContainText('Limits 180–240 °C, steps of at most 5 °C');
    await expect(pending.getByTestId('reco-change-zone1-sp').getByTestId('reco-change-now')).toHaveText('215.0 °C');
    await expect(pending.getByTestId('reco-change-zone1-sp').getByTestId('reco-change-proposed')).toHaveText('→ 218.0 °C');
    await expect(pending.getByTestId('reco-change-zone2-sp')).toContainText('+2.5 °C');
    await expect(pending.getByTestId('reco-expected-differs')).toHaveText('The supplier expected 220.0 °C now; the machine reads 221.5 °C');
    await expect(pending.getByTestId('reco-expect')).toHaveText('Cycle time expected 4 % lower');
    await expect(pending.getByTestId('reco-guards')).toHaveText('Scrap rate must not rise by more than 1 point');
    await expect(pending.getByTestId('reco-interlock')).toHaveText('Interlock clear: changes allowed now');
    await expect(pending.getByTestId('reco-expires')).toHaveText(/^Expires in 1 h 3[45] min \(\d\d:\d\d\)$/);
    await expect(pending).toContainText('Measured over 10 s after applying, against the 10 s before');

    // The decided one: result, before → after, the breached guard in words.
    const decided = page.getByTestId('reco-decided').getByTestId('reco-r-old');
    await expect(decided.getByTestId('reco-status')).toHaveText('APPLIED');
    await expect(decided.getByTestId('reco-apply-summary')).toHaveText('All 1 change written and read back');
    const done = decided.getByTestId('reco-outcome-done');
    await expect(done.getByTestId('reco-measure-expected').locator('th, td')).toHaveText([
      'Throughputexpected 5 % higher',
      '180 pcs/h',
      '→ 191 pcs/h',
      '+11 pcs/h (+6.1 %)',
      'MET',
    ]);
    await expect(done.getByTestId('reco-measure-guard-scrapRate').locator('th, td')).toHaveText([
      'Scrap ratemust not rise by more than 1 point',
      '1.2 %',
      '→ 2.7 %',
      '+1.5 points',
      'BREACHED',
    ]);
    await expect(decided.getByTestId('reco-revert-proposed')).toHaveText('A guard was breached: putting the old values back is proposed.');

    // Refused: the reason in words, never a button.
    const refused = page.getByTestId('reco-refused');
    await expect(refused.getByTestId('reco-refused-title')).toHaveText('Signature does not verify');
    await expect(refused.getByTestId('reco-refused-message')).toHaveText('the signature does not verify with any pinned supplier key');
    await expect(refused).toContainText('Moulding 1');
    await expect(page.getByTestId('reco-refused-list').getByRole('button')).toHaveCount(0);

    const shots = join(ROOT, 'test-results/screenshots');
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'recommendations-readonly.png') });

    // Maintenance signs in: the decisions appear, ≥ 44 px.
    await signIn(page, MAINT.name, MAINT.password);
    await expect(page.getByTestId('reco-readonly')).toHaveCount(0);
    const apply = pending.getByTestId('reco-apply');
    await expect(apply).toBeVisible();
    for (const b of [apply, pending.getByTestId('reco-reject'), pending.getByTestId('reco-defer'), decided.getByTestId('reco-revert')])
      expect((await b.boundingBox())?.height ?? 0).toBeGreaterThanOrEqual(44);

    await page.screenshot({ path: join(shots, 'recommendations.png') });
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      mkdirSync(join(ROOT, 'docs/screenshots'), { recursive: true });
      copyFileSync(join(shots, 'recommendations.png'), join(ROOT, 'docs/screenshots/recommendations.png'));
    }

    await decided.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'recommendations-decided.png') });
    await page.getByTestId('app-body').evaluate((el) => el.scrollTo(0, 0));

    // Apply: every change old → new, one unit, the PIN; Cancel first changes nothing.
    await apply.click();
    const dialog = page.getByTestId('reco-confirm-dialog');
    await expect(dialog.getByTestId('reco-confirm-changes').locator('li')).toHaveText([
      'Set Zone 1 setpoint from 215.0 °C to 218.0 °C',
      'Set Zone 2 setpoint from 221.5 °C to 224.0 °C',
    ]);
    await expect(dialog.getByTestId('reco-one-unit')).toHaveText('All changes are written as one: if one fails, the others are put back.');
    await expect(dialog.getByTestId('reco-confirm-problems')).toHaveCount(0);
    await expect(dialog.getByTestId('reco-confirm')).toBeDisabled();
    await expect(dialog.getByTestId('reco-cancel')).toBeFocused();
    await dialog.getByTestId('reco-cancel').click();
    await expect(dialog).toHaveCount(0);
    expect(script.requests.filter((r) => r.name !== 'reco.list')).toEqual([]);
    // A wrong PIN on the keypad: refused, said in the dialog, which stays open for another try.
    await apply.click();
    for (const d of '9999') await dialog.getByTestId(`pin-key-${d}`).click();
    await dialog.getByTestId('reco-confirm').click();
    await expect(dialog.getByTestId('pin-error')).toHaveText('Wrong PIN: 4 more tries before the account is locked');
    await expect(dialog.getByTestId('pin-input')).toHaveValue('');
    await expect(pending.getByTestId('reco-status')).toHaveText('WAITING FOR A DECISION');
    await dialog.getByTestId('pin-input').fill(MAINT.pin);
    await page.screenshot({ path: join(shots, 'recommendations-apply.png') });
    await dialog.getByTestId('reco-confirm').click();
    await expect(dialog).toHaveCount(0);
    expect(script.requests.filter((r) => r.name !== 'reco.list')).toEqual([
      { name: 'reco.apply', request: { id: 'r-new', pin: '9999' } },
      { name: 'reco.apply', request: { id: 'r-new', pin: '2345' } },
    ]);

    // It moves to Decided with its result, and the window is measured.
    const applied = page.getByTestId('reco-decided').getByTestId('reco-r-new');
    await expect(applied.getByTestId('reco-status')).toHaveText('APPLIED');
    await expect(applied.getByTestId('reco-apply-summary')).toHaveText('All 2 changes written and read back');
    await expect(applied.getByTestId('reco-notice')).toHaveCount(0);
    await expect(applied.getByTestId('reco-apply-steps').locator('li')).toHaveText([
      '✓ Zone 1 setpoint written and read back',
      '✓ Zone 2 setpoint written and read back',
    ]);
    await expect(applied.getByTestId('reco-decision')).toHaveText(/^Applied by maintenance at \d\d:\d\d$/);
    await expect(applied.getByTestId('reco-outcome-measuring')).toContainText('Measuring the effect');
    await expect(applied.getByRole('progressbar')).toHaveAttribute('aria-valuemax', '100');
    await expect(page.getByTestId('nav-reco-count')).toHaveCount(0);
    const appliedAt = Date.now();
    script.measured('r-new', {
      state: 'done',
      windowS: 10,
      beforeFrom: appliedAt - 20_000,
      appliedAt: appliedAt - 10_000,
      until: appliedAt,
      expected: { kpi: 'cycleTime', before: 19.6, after: 18.9, delta: -0.7, relative: -0.0357 },
      expectMet: true,
      guards: [{ kpi: 'scrapRate', before: 0.02, after: 0.021, delta: 0.001, relative: 0.05, limit: 0.01, breached: false }],
      revertProposed: false,
      autoReverted: false,
    });
    const outcome = applied.getByTestId('reco-outcome-done');
    await expect(outcome.getByTestId('reco-measure-expected').locator('td')).toHaveText(['19.6 s', '→ 18.9 s', '−0.7 s (−3.6 %)', 'MET']);
    await expect(outcome.getByTestId('reco-measure-guard-scrapRate').getByTestId('reco-verdict')).toHaveText('KEPT');
    await expect(outcome).not.toContainText('BREACHED');
    await applied.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'recommendations-outcome.png') });

    // The breached one: put the old values back, with the PIN.
    await decided.getByTestId('reco-revert').click();
    await expect(dialog.getByTestId('reco-confirm-changes').locator('li')).toHaveText([
      /^Set Ram speed setpoint from 130 mm\/s back to (its value before the apply|\d+ mm\/s)$/,
    ]);
    await dialog.getByTestId('pin-input').fill(MAINT.pin);
    await dialog.getByTestId('reco-confirm').click();
    await expect(decided.getByTestId('reco-status')).toHaveText('PUT BACK');
    await expect(decided.getByTestId('reco-notice')).toContainText('The old values are back');
    await expect(decided.getByTestId('reco-revert')).toHaveCount(0);

    // A new one arrives live, on a machine whose interlock blocks changes now.
    script.arrive(
      reco(Date.now(), {
        id: 'r-press',
        machineId: 'press-2',
        machineName: 'Press 2',
        changes: [
          {
            pointId: 'hold-sp',
            name: 'Holding pressure setpoint',
            unit: 'bar',
            decimals: 0,
            expected: 600,
            current: 600,
            proposed: 640,
            limits: { min: 300, max: 900, maxStep: 50 },
          },
        ],
        machineState: 'running',
        interlock: { ok: false, message: 'only while idle; the machine is running' },
      }),
    );
    await expect(page.getByTestId('nav-reco-count')).toHaveText('1');
    const press = page.getByTestId('reco-r-press');
    await expect(press.getByTestId('reco-interlock')).toHaveText(
      'Interlock BLOCKS changes now: only while idle; the machine is running. Apply is refused until it clears.',
    );
    await press.getByTestId('reco-apply').click();
    await expect(dialog.getByTestId('reco-one-unit')).toHaveText(
      'The change is written, then read back from the machine; if that fails, the old value is put back.',
    );
    await expect(dialog.getByTestId('reco-confirm-problems')).toContainText('the interlock blocks changes now');
    await page.keyboard.press('Escape');
    await expect(dialog).toHaveCount(0);

    // Defer for an hour, then reject with a reason (required).
    await press.getByTestId('reco-defer').click();
    await page.getByTestId('reco-defer-hour').click();
    await expect(press.getByTestId('reco-status')).toHaveText(/^DEFERRED until \d\d:\d\d$/);
    const defer = script.requests.find((r) => r.name === 'reco.defer');
    expect(Math.abs((defer?.request.untilMs as number) - (Date.now() + 3_600_000))).toBeLessThan(60_000);
    await expect(page.getByTestId('nav-reco-count')).toHaveCount(0);
    await press.getByTestId('reco-reject').click();
    const reject = page.getByTestId('reco-reject-dialog');
    await expect(reject.getByTestId('reco-reject-confirm')).toBeDisabled();
    await reject.getByTestId('reco-reject-reason').fill('Trial run on Press 2 this week');
    await reject.getByTestId('reco-reject-confirm').click();
    const rejected = page.getByTestId('reco-decided').getByTestId('reco-r-press');
    await expect(rejected.getByTestId('reco-status')).toHaveText('REJECTED');
    await expect(rejected.getByTestId('reco-decision')).toHaveText(
      /^Rejected by maintenance at \d\d:\d\d: Trial run on Press 2 this week$/,
    );
    expect(script.requests.find((r) => r.name === 'reco.reject')?.request).toEqual({
      id: 'r-press',
      reason: 'Trial run on Press 2 this week',
    });
  } finally {
    // Leave the page before the server goes, so its reconnect attempts are not logged as errors.
    await page.goto('about:blank');
    await server.stop();
  }
});

/** Runs `supplier-cloud ARGS…`; resolves with stdout, rejects with the exit code and stderr. */
async function cloud(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['bin/supplier-cloud.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return stdout;
}

/**
 * `supplier-cloud recommend --json …` against the demo's cloud, retried (bounded) while the
 * cloud has not yet seen the machine in sealed data: the uplink's first batch takes a few
 * seconds after start and no event tells the test when it has arrived.
 */
async function recommend(args: string[], timeoutMs = 60_000): Promise<{ id: string; machinePseudonym: string }> {
  const start = Date.now();
  for (;;) {
    try {
      return JSON.parse(await cloud(['recommend', '--json', ...args])) as { id: string; machinePseudonym: string };
    } catch (err) {
      const text = String((err as { stderr?: string }).stderr ?? err);
      if (!/has reached the cloud|reached the cloud yet/.test(text) || Date.now() - start > timeoutMs) throw new Error(text);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

test('the whole loop: a signed recommendation arrives, maintenance applies it, the machine shows it, the outcome appears; a forged one is refused', async ({
  page,
}) => {
  // The demo cloud's own tuning rule stays off: the only recommendations are the test's.
  const ruleBefore = process.env.PLANT_CONSOLE_DEMO_RECO;
  process.env.PLANT_CONSOLE_DEMO_RECO = 'off';
  const server = await startConsole({}).finally(() => {
    if (ruleBefore === undefined) delete process.env.PLANT_CONSOLE_DEMO_RECO;
    else process.env.PLANT_CONSOLE_DEMO_RECO = ruleBefore;
  });
  const forged = mkdtempSync(join(tmpdir(), 'pc-e2e-forged-'));
  try {
    await waitHealth(server.url, (h) => h.machines.length > 0 && h.machines.every((m) => m.link.state === 'online'), 'the demo plant');
    // The outcome compares the 10 s after the apply with the 10 s before: those must have been watched.
    const watchedFrom = Date.now();
    await page.goto(server.url);
    await signIn(page, MAINT.name, MAINT.password);
    await page.getByTestId('machine-tile-im-1').click();
    const value = page.getByTestId('setpoint-value-zone1-sp');
    await expect(value).toHaveText(/^\d+\.\d °C$/);
    const before = Number.parseFloat((await value.textContent()) ?? '');
    const target = Math.round((before + 3) * 10) / 10;

    // The demo's reference cloud signs, seals and sends one with a 10 s window.
    const demoArgs = [
      '--machine',
      'im-1',
      '--set',
      `zone1-sp=${before}:${target}`,
      '--expect',
      'availability:+1%',
      '--guard',
      'scrapRate:+1',
    ];
    const sent = await recommend(['--demo-data-dir', server.dataDir, ...demoArgs, '--why', 'e2e: zone 1 runs cold', '--window', '10s']);
    await expect(page.getByTestId('nav-reco-count')).toHaveText('1');
    await page.getByTestId('nav-recommendations').click();
    const card = page.getByTestId(`reco-${sent.id}`);
    await expect(card.getByTestId('reco-status')).toHaveText('WAITING FOR A DECISION');
    await expect(card.getByTestId('reco-machine')).toHaveText('Moulding 1');
    await expect(card.getByTestId('reco-change-zone1-sp').getByTestId('reco-change-proposed')).toHaveText(`→ ${target.toFixed(1)} °C`);
    await expect(card.getByTestId('reco-expect')).toHaveText('Availability expected 1 % higher');
    await expect(card.getByTestId('reco-guards')).toHaveText('Scrap rate must not rise by more than 1 point');

    // Maintenance applies it: the change in words, the PIN, the result read back. (Once the
    // console has watched the machine for a whole window: before that the outcome is no-data.)
    const watched = watchedFrom + 11_000 - Date.now();
    if (watched > 0) await page.waitForTimeout(watched);
    await card.getByTestId('reco-apply').click();
    const dialog = page.getByTestId('reco-confirm-dialog');
    await expect(dialog.getByTestId('reco-confirm-changes')).toContainText(`to ${target.toFixed(1)} °C`);
    await dialog.getByTestId('pin-input').fill(MAINT.pin);
    await dialog.getByTestId('reco-confirm').click();
    await expect(dialog).toHaveCount(0);
    await expect(card.getByTestId('reco-status')).toHaveText('APPLIED');
    await expect(card.getByTestId('reco-apply-steps')).toContainText('Zone 1 setpoint written and read back');
    // The value now follows the machine, not the inbox's copy from before the apply.
    await expect(card.getByTestId('reco-change-now')).toHaveText(`${target.toFixed(1)} °C`);

    // The machine page shows the new setpoint, read back from the device.
    await page.getByTestId('nav-machine').click();
    await expect(page.getByTestId('setpoint-value-zone1-sp')).toHaveText(`${target.toFixed(1)} °C`);

    // The outcome appears after the shortened window, measured from both windows; the page's
    // rendering of a done outcome is checked against exact numbers in the test above.
    await page.getByTestId('nav-recommendations').click();
    const done = card.getByTestId('reco-outcome-done');
    await expect(done).toBeVisible({ timeout: 60_000 });
    await expect(done.getByTestId('reco-measure-expected')).toContainText('Availability');
    await expect(done.getByTestId('reco-measure-guard-scrapRate').getByTestId('reco-verdict')).toHaveText(/^(KEPT|BREACHED)$/);
    await expect(card.getByTestId('reco-outcome-measuring')).toHaveCount(0);

    // A recommendation signed with a supplier key the plant does not pin: refused, listed, never actionable.
    const demoCloud = join(server.dataDir, 'demo-cloud');
    // A copy of the demo cloud's files (its databases left behind) whose supplier key is the forger's.
    for (const f of readdirSync(demoCloud, { withFileTypes: true }))
      if (f.isFile() && !/\.db(-wal|-shm|-journal)?$/.test(f.name)) copyFileSync(join(demoCloud, f.name), join(forged, f.name));
    const keys = join(forged, 'forger-keys');
    await cloud(['keygen', '--out', keys, '--plant-id', 'forger']);
    copyFileSync(join(keys, 'supplier-keys.secret.json'), join(forged, 'supplier-keys.secret.json'));
    const fake = await recommend([
      '--demo-data-dir',
      forged,
      '--machine',
      sent.machinePseudonym,
      '--set',
      `zone1-sp=${target}:${before}`,
      '--why',
      'forged',
    ]);
    const refused = page.getByTestId('reco-refused');
    await expect(refused).toHaveCount(1);
    await expect(refused).toHaveAttribute('data-code', /^(bad_signature|unknown_key)$/);
    await expect(page.getByTestId('reco-refused-list').getByRole('button')).toHaveCount(0);
    await expect(page.getByTestId(`reco-${fake.id}`)).toHaveCount(0);
    await expect(page.getByTestId('nav-reco-count')).toHaveCount(0);
    const shots = join(ROOT, 'test-results/screenshots');
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'recommendations-loop.png') });
    await refused.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'recommendations-loop-refused.png') });
  } finally {
    await page.goto('about:blank');
    await server.stop();
    rmSync(forged, { recursive: true, force: true });
  }
});
