import { LogStorageService } from '../../src/log-storage/log-storage.service';
import type { DifySimulator } from '../../src/simulator/simulator.types';
import { dropDatabase } from './postgres';
import { createTestApp, TestApp } from './test-app';

/** The service on the SQLite catalog over `onPostgres`'s LOGS_DIR, once that catalog is rebuilt from the files. */
export async function sqliteTwin(onPostgres: TestApp): Promise<TestApp> {
  const onSqlite = await createTestApp({ DIFY_ALLOWED_HOSTS: '127.0.0.1', LOGS_DIR: onPostgres.logsDir });
  await onSqlite.app.get(LogStorageService).whenCatalogReady();
  return onSqlite;
}

/** Closes both services and the simulator, then drops the database: whatever of them a failed set-up left. */
export async function closeTwins(twins: { onSqlite?: TestApp; onPostgres?: TestApp; sim?: DifySimulator; url?: string }): Promise<void> {
  await twins.onSqlite?.close();
  await twins.onPostgres?.close();
  await twins.sim?.close();
  if (twins.url) await dropDatabase(twins.url);
}
