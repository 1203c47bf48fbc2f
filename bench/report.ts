/** The results table: one row per scenario, each target checked against numbers measured in the same run. */

export interface Check {
  label: string;
  pass: boolean;
}

export interface Row {
  scenario: string;
  size: string;
  /** ms */
  median: number;
  /** ms; null when the scenario has no baseline */
  baseline: number | null;
  baselineLabel: string;
  /** MB */
  peakRss: number | null;
  target: string;
  checks: Check[];
  note?: string;
}

/** The catalog built for one archive size. */
export interface CatalogFigures {
  conversations: number;
  /** bytes on disk: the database, its write-ahead log and shared memory */
  bytes: number;
  /** bytes of the full-text index's tables */
  ftsBytes: number;
  /** ms to build the full-text index from the rows' text */
  ftsBuildMs: number;
  /** ms to build the whole catalog from the files at set-up (null when it was already there) */
  rebuildMs: number | null;
}

export interface Report {
  title: string;
  environment: string[];
  rows: Row[];
  catalogs: CatalogFigures[];
  setup: string[];
  notes: string[];
}

export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * median / baseline, with the speed-up spelled out when the service is faster. The speed-up gets the digits
 * that keep it from reading "1x": two just above 1, one up to 10, none beyond; a speed-up that still rounds
 * to 1.00 is no speed-up worth a word.
 */
export function formatRatio(median: number, baseline: number | null): string {
  if (baseline === null || !baseline) return '—';
  const r = median / baseline;
  if (r >= 1) return r.toFixed(2);
  // below 0.01 three decimals would read 0.000: two significant digits instead
  const ratio = r < 0.01 ? r.toPrecision(2) : r.toFixed(3);
  const faster = formatSpeedUp(1 / r);
  return faster ? `${ratio} (${faster} faster)` : ratio;
}

/** "1.4x", "1.04x", "2130x"; null for a speed-up that rounds to 1.00x */
export function formatSpeedUp(s: number): string | null {
  const digits = s < 1.1 ? 2 : s < 10 ? 1 : 0;
  const text = s.toFixed(digits);
  return Number(text) <= 1 ? null : `${text}x`;
}

export const rowPasses = (row: Row) => row.checks.every((c) => c.pass);

function cells(r: Row, withDetail: boolean): string[] {
  const failed = r.checks.filter((c) => !c.pass).map((c) => c.label).join('; ');
  return [
    r.scenario,
    r.size,
    formatMs(r.median),
    r.baseline === null ? '—' : withDetail ? `${formatMs(r.baseline)} (${r.baselineLabel})` : formatMs(r.baseline),
    formatRatio(r.median, r.baseline),
    r.peakRss === null ? '—' : `${r.peakRss.toFixed(0)} MB`,
    r.target,
    r.checks.length === 0 ? '—' : rowPasses(r) ? 'PASS' : withDetail ? `FAIL: ${failed}` : 'FAIL',
  ];
}

const HEADER = ['scenario', 'size', 'median', 'baseline', 'ratio (median / baseline)', 'peak RSS', 'target', 'result'];

export function markdown(report: Report): string {
  const row = (values: string[]) => `| ${values.map((v) => v.replace(/\|/g, '\\|')).join(' | ')} |`;
  const lines = [
    `# ${report.title}`,
    '',
    ...report.environment.map((e) => `- ${e}`),
    '',
    row(HEADER),
    `|${HEADER.map(() => '---').join('|')}|`,
    ...report.rows.map((r) => row(cells(r, true))),
    '',
  ];
  if (report.catalogs.length) {
    const head = ['conversations', 'catalog on disk', 'per conversation', 'full-text index', 'full-text index build', 'whole catalog build (set-up)'];
    lines.push('Catalog per size (SQLite):', '', row(head), `|${head.map(() => '---').join('|')}|`);
    for (const c of report.catalogs) {
      lines.push(
        row([
          c.conversations.toLocaleString('en-US'),
          `${(c.bytes / 2 ** 20).toFixed(0)} MiB`,
          `${(c.bytes / c.conversations / 1024).toFixed(2)} KiB`,
          `${(c.ftsBytes / 2 ** 20).toFixed(0)} MiB (${((100 * c.ftsBytes) / c.bytes).toFixed(0)}%)`,
          formatMs(c.ftsBuildMs),
          c.rebuildMs === null ? '— (cached)' : formatMs(c.rebuildMs),
        ]),
      );
    }
    lines.push('', 'The full-text index build is FTS5 `rebuild` from the text already in the catalog, one thread, under the pragmas of a catalog rebuild.', '');
  }
  const noted = report.rows.filter((r) => r.note);
  if (noted.length) lines.push('Per scenario:', '', ...noted.map((r) => `- ${r.scenario} (${r.size}): ${r.note}`), '');
  if (report.setup.length) lines.push('Set-up (not scenarios):', '', ...report.setup.map((s) => `- ${s}`), '');
  if (report.notes.length) lines.push(...report.notes, '');
  return lines.join('\n');
}

/** The table for a terminal: aligned plain text. */
export function plainTable(report: Report): string {
  const body = report.rows.map((r) => cells(r, false));
  const widths = HEADER.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const fmt = (values: string[]) => values.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [fmt(HEADER), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(fmt)].join('\n');
}
