import { ArchiveOrganizationQueryDto, ArchiveSearchQueryDto } from '../conversation-logs/dto/archive-query.dto';
import { LogStorageService } from '../log-storage/log-storage.service';
import { DAY_RANGE_FLAGS, definedOnly, FILTER_FLAGS, JSON_FLAG, ORGANIZATION_FLAG } from './archive-flags';
import { CliCommand, CliFlag, EXIT } from './cli-command';
import { validateFlags } from './cli-flags';
import { formatBytes } from './progress';

const SUMMARY_FLAGS: Record<string, CliFlag> = { organization: ORGANIZATION_FLAG, json: JSON_FLAG };

/** `summary`: totals of the archive from the catalog. */
export const summaryCommand: CliCommand = {
  name: 'summary',
  summary: 'files, bytes and day folders of the archive',
  flags: SUMMARY_FLAGS,
  examples: ['npm run cli -- summary', 'npm run cli -- summary --organization acme --json'],
  async run({ app: context, options, out }) {
    const query = validateFlags(ArchiveOrganizationQueryDto, options, SUMMARY_FLAGS);
    const app = await context();
    const summary = await app.get(LogStorageService).getSummary(query.organization_id);
    if (options.json) {
      out.line(JSON.stringify(summary, null, 2));
      return EXIT.done;
    }
    const days = summary.directories;
    out.line(`files: ${summary.total_files}`);
    out.line(`size: ${formatBytes(summary.total_size_bytes)} (${summary.total_size_bytes} bytes)`);
    out.line(`day folders: ${days.length}${days.length ? ` (${days[0]} .. ${days[days.length - 1]})` : ''}`);
    return EXIT.done;
  },
};

const SEARCH_FLAGS: Record<string, CliFlag> = {
  query: { type: 'string', value: 'WORDS', description: 'full text over names, queries and answers; without it: newest first', field: 'q' },
  ...DAY_RANGE_FLAGS,
  ...FILTER_FLAGS,
  limit: { type: 'string', value: 'N', description: 'results per page, 1 to 100 (default 20)', field: 'limit' },
  cursor: { type: 'string', value: 'CURSOR', description: 'the next page: the cursor printed after the previous one', field: 'cursor' },
  json: JSON_FLAG,
};

/** `search`: the API's full-text search, one page at a time. */
export const searchCommand: CliCommand = {
  name: 'search',
  summary: 'full-text search over names, queries and answers, newest first',
  flags: SEARCH_FLAGS,
  examples: ['npm run cli -- search --query "refund policy" --app support-bot', 'npm run cli -- search --rating dislike --limit 50 --json'],
  async run({ app: context, options, out }) {
    const query = validateFlags(ArchiveSearchQueryDto, options, SEARCH_FLAGS);
    const app = await context();
    const result = await app.get(LogStorageService).search(definedOnly({ ...query }));
    if (options.json) {
      out.line(JSON.stringify(result, null, 2));
      return EXIT.done;
    }
    for (const hit of result.results) {
      const where = hit.organization_id ? `${hit.organization_id}/${hit.app_id}` : hit.app_id;
      out.line(`${hit.created_at}  ${where}  ${hit.name || '(no name)'}  ${hit.message_count} messages  ${hit.path}`);
      if (hit.snippet) out.line(`    ${hit.snippet.replace(/\s+/g, ' ')}`);
    }
    out.line(`${result.results.length} results${result.next_cursor ? `; next page: --cursor ${result.next_cursor}` : ''}`);
    return EXIT.done;
  },
};
