import * as path from 'node:path';
import { ARCHIVE_FORMATS, ArchiveFormat } from './archive-generator';
import { REPLICA_SCENARIOS } from './replica-scenarios';
import { S3_SCENARIOS } from './s3-scenarios';

/** The command line of `npm run bench`: which scenarios, at which sizes, how many runs. */

const FS_SCENARIOS = ['backup', 'workspace', 'summary', 'export', 'retention', 'search', 'reindex', 'start-up', 'start-up-rebuild'] as const;
export const SCENARIOS = [...FS_SCENARIOS, ...S3_SCENARIOS, ...REPLICA_SCENARIOS] as const;
export type Scenario = (typeof SCENARIOS)[number];

/**
 * Names `--only` takes for several scenarios at once. The default is `fs`: the S3 and PostgreSQL scenarios
 * start a Ceph gateway and a PostgreSQL server and load the archive into them (about 70 minutes more at
 * 100,000 conversations), so they run when asked for.
 */
export const SCENARIO_GROUPS: Record<string, readonly Scenario[]> = {
  fs: FS_SCENARIOS,
  s3: S3_SCENARIOS,
  pg: REPLICA_SCENARIOS,
  all: SCENARIOS,
};
const DEFAULT_SELECTION = 'fs';

export const USAGE = [
  'usage: npm run bench -- [options]',
  '  --quick            tiny data set (200 / 100 conversations, short backup), for the smoke test',
  '  --sizes=S,L        archive sizes (also env BENCH_SIZES), default 10000,100000',
  '  --size=N           --sizes=N/10,N, with every archive scenario measured at both sizes (peak RSS at N within 50 MB of N/10)',
  '  --format=F         file format of the generated archives: seed (the seed tool\'s, default) or vault',
  '  --only=A,B         run these scenarios or groups of them (default fs):',
  ...Object.entries(SCENARIO_GROUPS)
    .filter(([group]) => group !== 'all')
    .map(([group, scenarios]) => `                       ${group}: ${scenarios.join(', ')}`),
  '                       all: every scenario',
  '  --data=DIR         where generated trees are cached (default bench/data)',
  '  --out=FILE         results file (default bench/results.md)',
  '  --service=FILE     the built service entry for the start-up and replica scenarios (default dist/main.js)',
  '  --slow=N           runs of the slow scenarios (export, retention, reindex, start-up without catalog, S3 export), default 3',
  '  --strict           exit 1 when a target is missed',
  '  --workspace=AxC    workspace scenario: A apps holding C conversations each (default 50x100; --quick 8x20)',
  '',
  'the tables of bench/results.md:',
  '  filesystem and SQLite, 100,000 and 1,000,000 files   npm run bench -- --size 1000000 --slow 1',
  '  the same at 10,000 and 100,000 files (about 9 min)   npm run bench',
  '  S3 and PostgreSQL, 10,000 and 100,000 (over an hour) npm run bench -- --only=s3,pg --slow 1',
  '  one S3 row again                                     npm run bench -- --only=s3-backup (or s3-export, s3-reindex, s3-retention) --slow 1',
].join('\n');

export class BenchUsageError extends Error {}

export interface Options {
  quick: boolean;
  /** every archive scenario at both sizes, the smaller one the reference of the larger (`--size`) */
  both: boolean;
  small: number;
  large: number;
  dataDir: string;
  out: string;
  service: string;
  strict: boolean;
  format: ArchiveFormat;
  only: Set<Scenario>;
  /** what `--only` said (or the default group), for the report */
  selection: string;
  backup: { conversations: number; messages: number; latencyMs: number; concurrency: number; runs: number };
  workspace: { apps: number; conversations: number; latencyMs: number; appConcurrency: number; concurrency: number; runs: number };
  runs: { fast: number; slow: number; baseline: number; startup: number };
}

const FLAGS = ['quick', 'strict'];
const WITH_VALUE = ['sizes', 'size', 'format', 'only', 'data', 'out', 'service', 'workspace', 'slow'];

/** `--name value` read as `--name=value` for the options that take one. */
function joinValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = /^--([a-z]+)$/.exec(args[i])?.[1];
    if (name && WITH_VALUE.includes(name) && i + 1 < args.length && !args[i + 1].startsWith('--')) out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}

/** Refuses what the bench would otherwise ignore: unknown options, a value after a flag, an option without its value. */
function checkArguments(argv: string[]): void {
  for (const arg of argv) {
    const match = /^--([a-z]+)(=.*)?$/.exec(arg);
    if (!match) throw new BenchUsageError(arg.startsWith('--') ? `unknown option ${arg}` : `unexpected argument ${arg} (options start with --)`);
    const [, name, value] = match;
    if (FLAGS.includes(name)) {
      if (value !== undefined) throw new BenchUsageError(`--${name} takes no value: ${arg}`);
    } else if (WITH_VALUE.includes(name)) {
      if (value === undefined || value === '=') throw new BenchUsageError(`--${name} needs a value, e.g. --${name}=${name === 'only' ? 's3,pg' : '...'}`);
    } else throw new BenchUsageError(`unknown option ${arg}`);
  }
}

/** Scenario and group names, in the order given, as the set of scenarios to run. */
function selectScenarios(list: string): Set<Scenario> {
  const only = new Set<Scenario>();
  for (const name of list.split(',').map((x) => x.trim())) {
    const group = SCENARIO_GROUPS[name];
    if (group) group.forEach((s) => only.add(s));
    else if ((SCENARIOS as readonly string[]).includes(name)) only.add(name as Scenario);
    else throw new BenchUsageError(`--only: unknown scenario or group "${name}" (groups: ${Object.keys(SCENARIO_GROUPS).join(', ')}; scenarios: ${SCENARIOS.join(', ')})`);
  }
  return only;
}

function parseSizes(list: string, source: string): number[] {
  const sizes = list.split(',').map((s) => s.trim());
  if (sizes.length !== 2 || sizes.some((s) => !/^[1-9]\d*$/.test(s))) {
    throw new BenchUsageError(`${source} must be two positive integers, e.g. 10000,100000: ${list}`);
  }
  return sizes.map(Number).sort((a, b) => a - b);
}

/** The options of a command line (`args` without node and the script); `project` is the checkout's root. */
export function parseOptions(args: string[], project: string, env: NodeJS.ProcessEnv = process.env): Options {
  const argv = joinValues(args);
  checkArguments(argv);
  const flag = (name: string) => argv.includes(`--${name}`);
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = flag('quick');
  const single = value('size');
  if (single !== undefined && !/^[1-9]\d*$/.test(single)) throw new BenchUsageError(`--size must be a positive integer: ${single}`);
  const format = (value('format') ?? 'seed') as ArchiveFormat;
  if (!ARCHIVE_FORMATS.includes(format)) throw new BenchUsageError(`--format must be one of: ${ARCHIVE_FORMATS.join(', ')}`);
  const only = selectScenarios(value('only') ?? DEFAULT_SELECTION);
  const sizes =
    single !== undefined
      ? [Math.max(1, Math.round(Number(single) / 10)), Number(single)]
      : value('sizes') !== undefined
        ? parseSizes(value('sizes')!, '--sizes')
        : env.BENCH_SIZES
          ? parseSizes(env.BENCH_SIZES, 'BENCH_SIZES')
          : quick
            ? [100, 200]
            : [10_000, 100_000];
  const slow = value('slow');
  if (slow !== undefined && !/^[1-9]\d*$/.test(slow)) throw new BenchUsageError(`--slow must be a positive integer: ${slow}`);
  const shape = /^(\d+)x(\d+)$/.exec(value('workspace') ?? (quick ? '8x20' : '50x100'));
  if (!shape) throw new BenchUsageError('--workspace must look like 50x100 (apps x conversations)');
  return {
    quick,
    both: single !== undefined,
    small: sizes[0],
    large: sizes[1],
    dataDir: path.resolve(value('data') ?? path.join(project, 'bench', 'data')),
    out: path.resolve(value('out') ?? path.join(project, 'bench', 'results.md')),
    service: path.resolve(value('service') ?? path.join(project, 'dist', 'main.js')),
    strict: flag('strict'),
    format,
    only,
    selection: value('only') ?? `${DEFAULT_SELECTION} (the default)`,
    backup: quick
      ? { conversations: 40, messages: 10, latencyMs: 5, concurrency: 8, runs: 1 }
      : { conversations: 2000, messages: 10, latencyMs: 50, concurrency: 8, runs: 3 },
    workspace: { apps: Number(shape[1]), conversations: Number(shape[2]), latencyMs: quick ? 50 : 200, appConcurrency: 4, concurrency: 4, runs: quick ? 1 : 3 },
    runs: quick ? { fast: 3, slow: Number(slow ?? 1), baseline: 1, startup: 1 } : { fast: 11, slow: Number(slow ?? 3), baseline: 3, startup: 3 },
  };
}
