import { SourceRegistry } from '../backup/source-registry';
import { SourcesService, SourceTestResult } from '../backup/sources.service';
import { orgAppLabel } from '../common/org-app-label';
import { SOURCE_FLAGS, selectSources } from './backup.command';
import { CliCommand, EXIT } from './cli-command';

/** `test`: one side-effect-free call to Dify with each source's credentials; nothing is written. */
export const testCommand: CliCommand = {
  name: 'test',
  summary: "check every configured source's credentials against Dify (nothing is backed up)",
  flags: { ...SOURCE_FLAGS, json: { type: 'boolean', description: 'print the results as JSON' } },
  examples: ['npm run cli -- test', 'npm run cli -- test --app support-bot --json'],
  async run({ app: context, options, out }) {
    const app = await context();
    const sources = selectSources(app.get(SourceRegistry).list(), options, out);
    if (!sources) return EXIT.failed;
    const service = app.get(SourcesService);
    const results: SourceTestResult[] = [];
    // one at a time: a test is one request, and the lines stay in configuration order
    for (const s of sources) results.push(await service.test(s.app_id, s.organization_id));
    if (options.json) out.line(JSON.stringify({ success: results.every((r) => r.ok), results }, null, 2));
    else {
      for (const r of results) {
        out.line(`${orgAppLabel(r)}: ${r.ok ? `ok: ${r.message}` : `failed: ${r.error}`}`);
      }
      out.line(`${results.filter((r) => r.ok).length} of ${results.length} sources ok`);
    }
    return results.every((r) => r.ok) ? EXIT.done : EXIT.failed;
  },
};
