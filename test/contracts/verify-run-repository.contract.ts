import type { VerifyRun, VerifyRunRepository } from '../../src/admin/verify-run.repository';

/** A repository under test over fresh, empty storage; `another` opens a second one over the same storage. */
export interface VerifyRunRepositorySubject {
  repository: VerifyRunRepository;
  another(): Promise<VerifyRunRepository>;
  dispose(): Promise<void>;
}

const run = (n: number, overrides: Partial<VerifyRun> = {}): VerifyRun => ({
  id: `check-${n}`,
  sha256: n % 2 === 0,
  status: 'running',
  started_at: new Date(Date.UTC(2025, 9, 15, 8, 0, n)).toISOString(),
  finished_at: null,
  checked: 0,
  result: null,
  error: null,
  replica: `vault-${n % 3}:${100 + n}`,
  ...overrides,
});

/**
 * What every `VerifyRunRepository` does, wherever it keeps the admin page's archive checks: runs read back as
 * written, newest first; a change reads, changes and writes as one step, so changes made at once by several
 * instances (replicas) all land. `describeVerifyRunRepositoryContract('PostgreSQL (verify_runs)', ...)`.
 */
export function describeVerifyRunRepositoryContract(name: string, create: () => Promise<VerifyRunRepositorySubject>): void {
  describe(`VerifyRunRepository contract: ${name}`, () => {
    let subject: VerifyRunRepositorySubject;
    let sut: VerifyRunRepository;

    beforeEach(async () => {
      subject = await create();
      sut = subject.repository;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('starts empty', async () => {
      expect(await sut.load()).toEqual([]);
    });

    it('reads back what a change wrote, newest first, a finished check with its result as it was', async () => {
      const done = run(1, {
        status: 'succeeded',
        finished_at: '2025-10-15T08:05:00.000Z',
        checked: 3,
        result: {
          success: true,
          method: 'sha256',
          checked: 3,
          by_etag: 0,
          by_sha256: 3,
          sha256_fallback: 0,
          missing: ['conversations/acme/2024/01/16/conversation_a_x.json'],
          changed: [],
          unindexed: ['conversations/ünï/2024/01/16/conversation_b_x.json.gz'],
          corrupt: [],
        },
      });
      const written = await sut.update(() => [run(2), done]);
      expect(written).toEqual([run(2), done]);
      expect(await sut.load()).toEqual([run(2), done]);
      expect(await (await subject.another()).load()).toEqual([run(2), done]);
    });

    it('gives a change the stored runs and keeps only what it returns', async () => {
      await sut.update(() => [run(3), run(2), run(1)]);
      let seen: VerifyRun[] = [];
      await sut.update((stored) => {
        seen = stored;
        return stored.filter((r) => r.id !== 'check-2').map((r) => (r.id === 'check-3' ? { ...r, checked: 42 } : r));
      });
      expect(seen).toEqual([run(3), run(2), run(1)]);
      expect(await sut.load()).toEqual([run(3, { checked: 42 }), run(1)]);
    });

    it('loses none of the changes several instances make at once', async () => {
      const instances = [sut, await subject.another(), await subject.another()];
      await Promise.all(
        Array.from({ length: 12 }, (_, i) => instances[i % 3].update((stored) => [run(i), ...stored].sort((a, b) => b.started_at.localeCompare(a.started_at)))),
      );
      expect((await sut.load()).map((r) => r.id)).toEqual(Array.from({ length: 12 }, (_, i) => `check-${11 - i}`));
    });
  });
}
