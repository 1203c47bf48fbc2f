import { postgresVerifyRuns } from '../../src/admin/postgres-verify-run.repository';
import { StateDatabase } from '../../src/backup/postgres/state-database';
import { createDatabase, dropDatabase } from '../support/postgres';
import { describeVerifyRunRepositoryContract } from './verify-run-repository.contract';

jest.setTimeout(120_000);

describeVerifyRunRepositoryContract('PostgreSQL (verify_runs)', async () => {
  const url = await createDatabase('verify_runs_contract');
  const opened = [new StateDatabase(url)];
  return {
    repository: postgresVerifyRuns(opened[0]),
    another: async () => {
      const db = new StateDatabase(url);
      opened.push(db);
      return postgresVerifyRuns(db);
    },
    dispose: async () => {
      for (const db of opened) await db.close();
      await dropDatabase(url);
    },
  };
});
