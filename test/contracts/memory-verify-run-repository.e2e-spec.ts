import { MemoryVerifyRunRepository } from '../../src/admin/verify-run.repository';
import { describeVerifyRunRepositoryContract } from './verify-run-repository.contract';

// one process: every instance of the service's module shares the one repository
describeVerifyRunRepositoryContract(MemoryVerifyRunRepository.name, async () => {
  const repository = new MemoryVerifyRunRepository();
  return { repository, another: async () => repository, dispose: async () => undefined };
});
