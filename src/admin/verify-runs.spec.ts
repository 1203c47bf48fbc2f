import { REPLICA_ID, Replicas } from '../backup/replicas';
import { Clock } from '../common/clock';
import { NotFoundError } from '../common/domain-errors';
import type { LogStorageService } from '../log-storage/log-storage.service';
import type { VerifyOptions, VerifyResult } from '../log-storage/log-storage.types';
import { MemoryVerifyRunRepository, VerifyRun } from './verify-run.repository';
import { PROGRESS_WRITE_MS, VerifyRuns } from './verify-runs';

const RESULT: VerifyResult = {
  success: true,
  method: 'etag',
  checked: 3,
  by_etag: 3,
  by_sha256: 0,
  sha256_fallback: 0,
  missing: [],
  changed: [],
  unindexed: [],
  corrupt: [],
};

describe(VerifyRuns.name, () => {
  let repository: MemoryVerifyRunRepository;
  let live: Set<string>;
  /** the checks the storage was asked for, each finished by the test */
  let checks: { options: VerifyOptions; finish: (result: VerifyResult) => void; fail: (error: Error) => void }[];
  let sut: VerifyRuns;

  const other = (overrides: Partial<VerifyRun> = {}): VerifyRun => ({
    id: 'theirs',
    sha256: false,
    status: 'running',
    started_at: '2025-10-15T07:00:00.000Z',
    finished_at: null,
    checked: 40,
    result: null,
    error: null,
    replica: 'vault-2:7',
    ...overrides,
  });

  beforeEach(() => {
    repository = new MemoryVerifyRunRepository();
    live = new Set([REPLICA_ID]);
    checks = [];
    const storage = {
      verify: (options: VerifyOptions) =>
        new Promise<VerifyResult>((finish, fail) => {
          checks.push({ options, finish, fail });
        }),
    } as unknown as LogStorageService;
    const replicas = { liveIds: async () => new Set(live) } as unknown as Replicas;
    const clock = { now: () => new Date('2025-10-15T08:00:00.000Z') } as Clock;
    sut = new VerifyRuns(storage, clock, repository, replicas);
  });

  it('records a check where every replica reads it, and its result when it ends', async () => {
    const run = await sut.start(true);
    expect(run).toMatchObject({ status: 'running', sha256: true, replica: REPLICA_ID, checked: 0 });
    expect(await sut.get(run.id)).toEqual(run);
    checks[0].finish(RESULT);
    await new Promise((r) => setImmediate(r));
    await sut.settled();
    expect((await repository.load())[0]).toMatchObject({ id: run.id, status: 'succeeded', checked: 3, result: RESULT, finished_at: '2025-10-15T08:00:00.000Z' });
    expect(await sut.latest()).toMatchObject({ id: run.id, status: 'succeeded' });
  });

  it('writes the progress at most once per interval', async () => {
    let now = 1_000_000;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const run = await sut.start(false);
      checks[0].options.onProgress!(10);
      checks[0].options.onProgress!(20);
      await sut.settled();
      expect((await sut.get(run.id)).checked).toBe(10);
      now += PROGRESS_WRITE_MS;
      checks[0].options.onProgress!(30);
      await sut.settled();
      expect((await sut.get(run.id)).checked).toBe(30);
    } finally {
      clock.mockRestore();
    }
  });

  it('joins the check under way on any live replica instead of starting another', async () => {
    const first = await sut.start(false);
    expect(await sut.start(true)).toEqual(first);
    expect(checks).toHaveLength(1);

    await repository.update(() => [other()]);
    live.add('vault-2:7');
    expect(await sut.start(false)).toMatchObject({ id: 'theirs', replica: 'vault-2:7' });
    expect(checks).toHaveLength(1);
  });

  it('shows the check of a replica that is gone as failed, and starts a new one beside it', async () => {
    await repository.update(() => [other()]);
    expect(await sut.get('theirs')).toMatchObject({ status: 'failed', error: 'the replica running it (vault-2:7) is gone', checked: 40 });
    const run = await sut.start(false);
    expect(run.id).not.toBe('theirs');
    expect((await repository.load()).map((r) => r.id)).toEqual([run.id, 'theirs']);
  });

  it('shows a check of an earlier process with the same host name and pid (a restarted container) as failed', async () => {
    await repository.update(() => [other({ id: 'before-restart', replica: REPLICA_ID })]);
    expect(await sut.get('before-restart')).toMatchObject({ status: 'failed' });
    expect((await sut.start(false)).id).not.toBe('before-restart');
  });

  it('keeps the ten newest checks, and names the id it does not know', async () => {
    for (let i = 0; i < 11; i++) {
      await sut.start(false);
      checks[i].fail(new Error('boom'));
      await new Promise((r) => setImmediate(r));
    }
    await sut.settled();
    const kept = await repository.load();
    expect(kept).toHaveLength(10);
    expect(kept.every((r) => r.status === 'failed' && r.error === 'the check stopped on an error (Error)')).toBe(true);
    await expect(sut.get('no-such-check')).rejects.toThrow(new NotFoundError('no archive check has id no-such-check; the last 10 checks are kept', 'id'));
  });
});
