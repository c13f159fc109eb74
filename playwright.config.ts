/**
 * End-to-end tests: Debian's chromium (no browser download) against the console in web mode,
 * started with real device agents by test/e2e/fixtures.ts.
 */
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: 'test/e2e',
  // A subfolder: Playwright empties its outputDir at start, and test-results/ also holds the
  // unit-test report that `npm test` sums up afterwards.
  outputDir: 'test-results/e2e',
  workers: 1,
  retries: 0,
  reporter: 'list',
  timeout: 120_000,
  expect: { timeout: 15_000 },
  use: {
    viewport: { width: 1366, height: 768 },
    trace: 'off',
    screenshot: 'off',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        viewport: { width: 1366, height: 768 },
        launchOptions: {
          executablePath: '/usr/bin/chromium',
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        },
      },
    },
  ],
});
