import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../../src/cli';
import { DEMO_SIMULATOR_OPTIONS } from '../../src/simulator/main';
import { startSimulator } from '../../src/simulator/simulator';

const ROOT = path.resolve(__dirname, '..', '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The text of a `##` (or `###`) section, up to the next heading of the same or a higher level. */
function section(title: string, level = 2): string {
  const lines = README.split('\n');
  // a `# comment` inside a fenced code block is no heading
  let fenced = false;
  const heading = lines.map((l) => {
    if (l.startsWith('```')) fenced = !fenced;
    return !fenced && /^#+ /.test(l);
  });
  const start = lines.findIndex((l, i) => heading[i] && l === `${'#'.repeat(level)} ${title}`);
  if (start < 0) throw new Error(`README has no section "${title}"`);
  const end = lines.findIndex((l, i) => i > start && heading[i] && new RegExp(`^#{1,${level}} `).test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** The rows of the first Markdown table in `text`, cells trimmed, header and rule left out. */
function tableRows(text: string): string[][] {
  const rows = text.split('\n').filter((l) => l.startsWith('|'));
  return rows.slice(2).map((r) => r.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
}

describe('README.md', () => {
  it('puts whole-workspace sources first in the configuration section', () => {
    const configuration = section('Configuration');
    const first = configuration.split('\n').find((l) => l.startsWith('### '));
    expect(first).toBe('### A whole workspace (recommended)');
  });

  it('has Agent apps in the access-mode table, and says plainly what each mode cannot see', () => {
    const modes = section('How the service reaches Dify: three access modes');
    const header = modes.split('\n').find((l) => l.startsWith('|'))!;
    expect(header).toBe('| mode | chosen when the source has | sees | cannot see |');
    const rows = tableRows(modes);
    expect(rows.map((r) => r[0])).toEqual(['service', 'console, admin key', 'console, login', 'Agent apps (Dify >= 1.16), either console mode']);
    for (const row of rows) expect([row[0], row[3].length > 20]).toEqual([row[0], true]);
    expect(rows[0][3]).toMatch(/Agent apps/);
    expect(rows[3][3]).toMatch(/debugger/);
    // what is called for Agent apps, and why the roster is avoided
    expect(modes).toContain('GET /apps?mode=agent');
    expect(modes).toContain('Agent Debugging Conversation');
  });

  it('documents every CLI command, how to get help, and the exit codes', () => {
    const cli = section('Command line');
    const documented = tableRows(cli).map((r) => /^`([a-z-]+)/.exec(r[0])?.[1]);
    for (const name of Object.keys(COMMANDS).filter((n) => n !== 'help')) expect([name, documented.includes(name)]).toEqual([name, true]);
    expect(cli).toContain('`npm run cli -- --help` (also `-h`, `help`)');
    expect(cli).toContain('`npm run cli -- <command> --help`');
    expect(cli).toContain('`npm run cli` and `npm run reindex` do not compile');
    const exits = tableRows(cli.slice(cli.indexOf('| exit code |'))).map((r) => r[0]);
    expect(exits).toEqual(['0', '1', '2', '3', '4']);
  });

  it('npm run reindex and npm run cli run the compiled CLI without compiling first', () => {
    const { scripts } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.reindex).toBe('node dist/cli.js reindex');
    expect(scripts.cli).toBe('node dist/cli.js');
  });

  it("gives the simulator's own use with the credentials it really has", async () => {
    const text = section('The Dify simulator');
    expect(text).toContain('npm run simulator');
    const sim = await startSimulator({ ...DEMO_SIMULATOR_OPTIONS, port: 0 });
    try {
      expect(text).toContain(`\`${sim.adminApiKey}\``);
      expect(text).toContain(`\`${sim.account.email}\` / \`${sim.account.password}\``);
      expect(text).toContain(`timezone ${sim.account.timezone}`);
      for (const mode of new Set(sim.apps.map((a) => a.mode).filter((m) => !['channel', 'rag-pipeline'].includes(m)))) expect(text).toContain(mode);
    } finally {
      await sim.close();
    }
  });

  it('documents readiness, metrics, the dashboard and the alert rules', () => {
    const text = section('Readiness and metrics');
    for (const word of ['GET /health', 'GET /health/ready', 'GET /metrics', 'MIN_FREE_DISK_MB', 'ALERT_STALE_HOURS', 'METRICS_TOKEN', 'docs/grafana-dashboard.json', 'docs/prometheus-alerts.yml']) {
      expect([word, text.includes(word)]).toEqual([word, true]);
    }
    for (const file of ['docs/grafana-dashboard.json', 'docs/prometheus-alerts.yml']) expect(fs.existsSync(path.join(ROOT, file))).toBe(true);
  });
});
