import * as path from 'node:path';
import { BenchUsageError, parseOptions, SCENARIO_GROUPS, SCENARIOS } from '../../bench/options';

const PROJECT = '/checkout';
const parse = (...args: string[]) => parseOptions(args, PROJECT, {});
const refusal = (...args: string[]) => {
  try {
    parse(...args);
  } catch (error) {
    expect(error).toBeInstanceOf(BenchUsageError);
    return (error as Error).message;
  }
  throw new Error(`${args.join(' ')} was accepted`);
};

/** The bench's command line: what runs by default, what each group holds, and what is refused. */
describe(parseOptions.name, () => {
  it('runs the filesystem and SQLite scenarios at 10,000 and 100,000 by default, without S3 or PostgreSQL', () => {
    const sut = parse();
    expect([...sut.only]).toEqual(['backup', 'workspace', 'summary', 'export', 'retention', 'search', 'reindex', 'start-up', 'start-up-rebuild']);
    expect([sut.small, sut.large]).toEqual([10_000, 100_000]);
    expect(sut.selection).toBe('fs (the default)');
    expect(sut.out).toBe(path.join(PROJECT, 'bench', 'results.md'));
  });

  it('takes groups and scenarios together in --only, and every scenario lies in a group', () => {
    expect([...parse('--only=s3,pg').only]).toEqual(['s3-backup', 's3-export', 's3-retention', 's3-reindex', 'pg-queries', 'replica-backup', 'failover']);
    expect([...parse('--only', 'reindex,s3-reindex').only]).toEqual(['reindex', 's3-reindex']);
    expect(parse('--only=all').only.size).toBe(SCENARIOS.length);
    const grouped = Object.entries(SCENARIO_GROUPS).filter(([g]) => g !== 'all').flatMap(([, s]) => s);
    expect([...grouped].sort()).toEqual([...SCENARIOS].sort());
  });

  it('reads --size N as N/10 and N, each archive scenario at both', () => {
    const sut = parse('--size', '1000000', '--slow', '1');
    expect([sut.small, sut.large, sut.both, sut.runs.slow]).toEqual([100_000, 1_000_000, true, 1]);
  });

  it('takes the sizes from BENCH_SIZES when --sizes is not given', () => {
    expect(parseOptions([], PROJECT, { BENCH_SIZES: '2000,500' })).toMatchObject({ small: 500, large: 2000 });
  });

  it.each([
    [['--fast'], 'unknown option --fast'],
    [['--Only=s3'], 'unknown option --Only=s3'],
    [['s3'], 'unexpected argument s3 (options start with --)'],
    [['--quick=yes'], '--quick takes no value: --quick=yes'],
    [['--only'], '--only needs a value, e.g. --only=s3,pg'],
    [['--only='], '--only needs a value, e.g. --only=s3,pg'],
    [['--only=s3,disk'], '--only: unknown scenario or group "disk"'],
    [['--sizes=10000'], '--sizes must be two positive integers, e.g. 10000,100000: 10000'],
    [['--sizes=10k,100k'], '--sizes must be two positive integers, e.g. 10000,100000: 10k,100k'],
    [['--slow=0'], '--slow must be a positive integer: 0'],
    [['--format=csv'], '--format must be one of: seed, vault'],
  ])('refuses %j with a line saying why', (args, message) => {
    expect(refusal(...args)).toContain(message);
  });

  it('names the groups and scenarios when --only names neither', () => {
    expect(refusal('--only=s4')).toBe(`--only: unknown scenario or group "s4" (groups: fs, s3, pg, all; scenarios: ${SCENARIOS.join(', ')})`);
  });

  it('refuses a bad BENCH_SIZES by its name', () => {
    expect(() => parseOptions([], PROJECT, { BENCH_SIZES: '100' })).toThrow('BENCH_SIZES must be two positive integers');
  });
});
