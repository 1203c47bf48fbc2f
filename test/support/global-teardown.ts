/** jest globalTeardown of the e2e project: stops every service the suites started, by pid. */
import { destroyRunDir, RUN_DIR_ENV } from './processes';

export default async function globalTeardown(): Promise<void> {
  const dir = (globalThis as Record<string, unknown>).__vaultTestRunDir as string | undefined;
  if (!dir) return;
  await destroyRunDir(dir);
  delete process.env[RUN_DIR_ENV];
}
