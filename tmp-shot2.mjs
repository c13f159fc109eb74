import { chromium } from '@playwright/test';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const dir = mkdtempSync(join(tmpdir(), 'shot-'));
const child = spawn(process.execPath, ['bin/plant-console.js', 'serve', '--data-dir', dir, '--port', '18557'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PLANT_CONSOLE_DEMO_RECO_AFTER_S: '20', PLANT_CONSOLE_DEMO_RECO_WINDOW_S: '20' } });
let out = ''; child.stdout.on('data', (d) => (out += d)); child.stderr.on('data', (d) => (out += d));
await new Promise((r) => setTimeout(r, 8000));
const b = await chromium.launch({ executablePath: '/usr/bin/chromium' });
const page = await b.newPage({ viewport: { width: 1366, height: 768 } });
await page.goto('http://127.0.0.1:18557/');
await page.waitForTimeout(1000);
await page.screenshot({ path: '/tmp/s1-viewer.png' });
await page.getByTestId('sign-in').click();
await page.waitForTimeout(300);
await page.screenshot({ path: '/tmp/s2-login.png' });
await page.getByTestId('login-name').fill('maintenance');
await page.getByTestId('login-password').fill('wrong password');
await page.getByTestId('login-submit').click();
await page.waitForTimeout(1500);
await page.screenshot({ path: '/tmp/s3-login-bad.png' });
await page.getByTestId('login-password').fill('maintenance-demo');
await page.getByTestId('login-submit').click().catch(() => {});
await page.waitForTimeout(2500);
// wait for the demo recommendation
for (let i = 0; i < 40; i++) { if (await page.getByTestId('nav-reco-count').count()) break; await page.waitForTimeout(1000); }
await page.getByTestId('nav-recommendations').click();
await page.waitForTimeout(1000);
await page.screenshot({ path: '/tmp/s4-reco.png' });
const apply = page.locator('[data-testid="reco-apply"]').first();
if (await apply.count()) {
  await apply.click(); await page.waitForTimeout(500);
  await page.screenshot({ path: '/tmp/s5-reco-dialog.png' });
  await page.getByTestId('pin-input').fill('2345').catch(() => {});
  await page.getByTestId('reco-confirm').click().catch(() => {});
  await page.waitForTimeout(3000);
  await page.screenshot({ path: '/tmp/s6-reco-applied.png' });
}
await page.getByTestId('nav-modules').click();
await page.waitForTimeout(1500);
await page.screenshot({ path: '/tmp/s7-modules.png' });
await b.close();
child.kill('SIGTERM');
console.log(out.split('\n').filter((l) => /error|Recommendation/i.test(l)).slice(0, 10).join('\n'));
