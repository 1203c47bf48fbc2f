import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';

export const SCREENSHOT_FILE = path.resolve(__dirname, '..', '..', 'docs', 'overview.png');

/**
 * Takes the overview, as an operator sees it on a laptop. The README's committed copy is replaced only
 * when it is missing or UPDATE_SCREENSHOTS=1, so a test run leaves the work tree clean.
 */
export async function saveOverviewScreenshot(page: Page, file = SCREENSHOT_FILE): Promise<string> {
  const refresh = !fs.existsSync(file) || process.env.UPDATE_SCREENSHOTS === '1';
  const target = refresh ? file : path.join(os.tmpdir(), `overview-${process.pid}.png`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.waitForSelector('[data-charts][data-drawn="true"]');
  await page.screenshot({ path: target, fullPage: true, animations: 'disabled' });
  return target;
}
