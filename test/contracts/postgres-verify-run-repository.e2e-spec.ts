import { PostgresVerifyRunRepository } from '../../src/admin/postgres-verify-run.repository';
import { StateDatabase } from '../../src/backup/postgres/state-database';
import { createDatabase, dropDatabase } from '../support/postgres';
import { describeVerifyRunRepositoryContract } from './verify-run-repository.contract';

jest.setTimeout(120_000);

describeVerifyRunRepositoryContract(PostgresVerifyRunRepository.name, async () => {
  const url = await createDatabase('verify_runs_contract');
  const opened = [new StateDatabase(url)];
  return {
    repository: new PostgresVerifyRunRepository(opened[0]),
    another: async () => {
      const db = new StateDatabase(url);
      opened.push(db);
      return new PostgresVerifyRunRepository(db);
    },
    dispose: async () => {
      for (const db of opened) await db.close();
      await dropDatabase(url);
    },
  };
});
