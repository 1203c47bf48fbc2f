import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { postgresBinDir } from '../support/postgres';
import { MissingDependencyError, POSTGRES_REQUIREMENT, requireBinaries, S3_REQUIREMENT } from '../support/requires';

const ROOT = path.resolve(__dirname, '..', '..');
const SCENARIOS = ['backup', 'workspace backup', 'summary', 'export ndjson', 'retention', 'search', 'reindex', 'start-up', 'start-up without catalog'];
/** rows of the bench's own Ceph RADOS Gateway and PostgreSQL (skipped rows, naming what to install, without them) */
const S3_ROWS = ['s3 backup', 's3 reindex', 's3 export ndjson', 's3 retention'];
const PG_ROWS = ['pg summary', 'pg search', 'pg stats', 'replica backup', 'failover'];

/** The benchmark still compiles and runs end to end on a tiny data set; no timing is asserted. */
describe('npm run bench (smoke)', () => {
  let dir: string;
  let rows: string[] = [];
  // compiled inside the project: the service finds views/ by walking up from its own folder
  const out = path.join(ROOT, 'dist-bench', `smoke-${process.pid}`);

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-bench-'));
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('writes a table with every scenario (--only=all) for a tiny archive', () => {
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'bench/tsconfig.json', '--outDir', out], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);

    const results = path.join(dir, 'results.md');
    const run = spawnSync(
      process.execPath,
      [path.join(out, 'bench', 'run.js'), '--quick', '--only=all', '--sizes=60,120', `--data=${path.join(dir, 'data')}`, `--out=${results}`, `--service=${path.join(out, 'src', 'main.js')}`],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BENCH_SIZES: '' } },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);

    const lines = fs.readFileSync(results, 'utf8').split('\n');
    const tableRows = (header: string) => {
      const start = lines.findIndex((l) => l.startsWith(`| ${header} |`));
      expect(start).toBeGreaterThan(-1);
      const end = lines.findIndex((l, i) => i > start && !l.startsWith('|'));
      return lines.slice(start + 2, end);
    };
    rows = tableRows('scenario');
    for (const scenario of [...SCENARIOS, ...S3_ROWS, ...PG_ROWS]) {
      expect(rows.some((r) => r.startsWith(`| ${scenario} |`))).toBe(true);
    }
    // both exports have a memory reference row
    expect(rows).toHaveLength(SCENARIOS.length + S3_ROWS.length + PG_ROWS.length + 2);
    for (const row of rows) expect(row).toMatch(/\| (PASS|FAIL[^|]*|—) \|$/);
    expect(run.stdout).toContain('scenario');

    // the catalog of each size: its size on disk and the full-text index build
    const catalogs = tableRows('conversations');
    expect(catalogs.map((r) => r.split(' | ')[0])).toEqual(['| 60', '| 120']);
    for (const row of catalogs) expect(row).toMatch(/^\| \d+ \| \d+ MiB \| [\d.]+ KiB \| \d+ MiB \(\d+%\) \| [\d.]+ m?s \|/);
  }, 600_000);

  it('measures the S3 and PostgreSQL scenarios against their baselines (not skipped)', () => {
    requireBinaries(['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool', 'ceph'], S3_REQUIREMENT);
    if (!postgresBinDir()) throw new MissingDependencyError(POSTGRES_REQUIREMENT);
    const row = (name: string) => rows.filter((r) => r.startsWith(`| ${name} |`));
    for (const name of [...S3_ROWS, ...PG_ROWS]) {
      for (const r of row(name)) {
        expect(r).not.toMatch(/\| skipped \|/);
        expect(r).toMatch(/^\| [^|]+ \| [^|]+ \| [\d.]+ m?s \|/);
      }
    }
    // every row but the S3 reindex and the export's memory reference has a baseline and a verdict
    for (const name of ['s3 backup', 's3 retention', 'pg summary', 'pg search', 'pg stats', 'replica backup', 'failover']) {
      expect(row(name)[0]).toMatch(/\| [\d.]+ m?s \([^)]+\) \| [\d.]+.* \| (PASS|FAIL[^|]*) \|$/);
    }
    expect(row('s3 export ndjson')[1]).toMatch(/\| (PASS|FAIL[^|]*) \|$/);
    expect(row('s3 reindex')[0]).toMatch(/\| (PASS|FAIL[^|]*) \|$/);
  });
});
