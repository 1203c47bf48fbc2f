import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';

export const SCREENSHOT_FILE = path.resolve(__dirname, '..', '..', 'docs', 'overview.png');

/** Saves the overview, as an operator sees it on a laptop, for the README. */
export async function saveOverviewScreenshot(page: Page, file = SCREENSHOT_FILE): Promise<string> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.waitForSelector('[data-charts][data-drawn="true"]');
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}
