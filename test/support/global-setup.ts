/**
 * jest globalSetup of the e2e project: makes the run folder shared by all suites and workers
 * (VAULT_TEST_RUN_DIR) and a watchdog on this jest process. It starts no service: the S3 gateway,
 * PostgreSQL and containers are started by the first suite that asks for them.
 */
import { createRunDir, RUN_DIR_ENV } from './processes';

export default async function globalSetup(): Promise<void> {
  if (process.env[RUN_DIR_ENV]) return; // given from outside: its owner cleans it up
  process.env[RUN_DIR_ENV] = createRunDir(process.pid);
  (globalThis as Record<string, unknown>).__vaultTestRunDir = process.env[RUN_DIR_ENV];
}
