import { AppConfig } from '../config/app-config';
import { ArchiveCleanQueryDto, ArchiveVerifyQueryDto } from '../conversation-logs/dto/archive-query.dto';
import { LogStorageService } from '../log-storage/log-storage.service';
import { definedOnly, JSON_FLAG, ORGANIZATION_FLAG } from './archive-flags';
import { CliCommand, CliFlag, EXIT } from './cli-command';
import { validateFlags } from './cli-flags';
import { TerminalProgress } from './progress';

/** `reindex`: drops the catalog and rebuilds it from the files. */
export const reindexCommand: CliCommand = {
  name: 'reindex',
  summary: 'drop the catalog and rebuild it from the files (they are the source of truth)',
  flags: {},
  examples: ['npm run reindex', 'npm run cli -- reindex'],
  duringRebuild: true,
  async run({ app: context, out }) {
    const storage = (await context()).get(LogStorageService);
    const progress = new TerminalProgress(out.terminal);
    const result = await storage.reindex({
      onProgress: (done, total) => {
        const fraction = total ? Math.min(1, done / total) : null;
        progress.update(fraction, `${done}${total ? `/${total}` : ''} files (${Math.round(progress.perSecond(done))}/s)`);
      },
    });
    progress.clear();
    for (const s of result.skipped) out.line(`skipped ${s.path}: ${s.reason}`);
    out.line(`indexed ${result.indexed} files, skipped ${result.skipped.length}, in ${result.duration_ms} ms`);
    return EXIT.done;
  },
};

const VERIFY_FLAGS: Record<string, CliFlag> = {
  sha256: { type: 'boolean', description: 'download every file and compare its sha256 (default: size and ETag from the listing)', field: 'sha256' },
  json: JSON_FLAG,
};

/** `verify`: every file against the catalog; exit code 1 when anything differs. */
export const verifyCommand: CliCommand = {
  name: 'verify',
  summary: 'check every file against the catalog (size and ETag; --sha256 hashes); exit code 1 when a file is missing, changed, unindexed or corrupt',
  flags: VERIFY_FLAGS,
  examples: ['npm run cli -- verify', 'npm run cli -- verify --sha256 --json'],
  async run({ app: context, options, out }) {
    const query = validateFlags(ArchiveVerifyQueryDto, options, VERIFY_FLAGS);
    const r = await (await context()).get(LogStorageService).verify(definedOnly({ sha256: query.sha256 }));
    const problems = r.missing.length + r.changed.length + r.unindexed.length + r.corrupt.length;
    if (options.json) out.line(JSON.stringify(r, null, 2));
    else {
      for (const [kind, paths] of [['missing', r.missing], ['changed', r.changed], ['unindexed', r.unindexed], ['corrupt', r.corrupt]] as const) {
        for (const p of paths) out.line(`${kind} ${p}`);
      }
      out.line(`checked ${r.checked}: missing ${r.missing.length}, changed ${r.changed.length}, unindexed ${r.unindexed.length}, corrupt ${r.corrupt.length}`);
      if (r.sha256_fallback) out.line(`${r.sha256_fallback} files were checked by sha256 instead of their ETag (catalogued before the catalog kept MD5s, or an ETag that is not the MD5)`);
    }
    return problems === 0 ? EXIT.done : EXIT.failed;
  },
};

const CLEAN_FLAGS: Record<string, CliFlag> = {
  days: { type: 'string', value: 'N', description: 'keep this many days before today, 1 to 36500 (default LOG_RETENTION_DAYS)', field: 'days_to_keep' },
  'dry-run': { type: 'boolean', description: 'report what would be deleted, delete nothing', field: 'dry_run' },
  organization: { ...ORGANIZATION_FLAG, description: "only this organization's day folders" },
  json: JSON_FLAG,
};

/** `clean`: retention by hand. */
export const cleanCommand: CliCommand = {
  name: 'clean',
  replaysWrites: true,
  summary: 'delete day folders older than N days (in LOG_TIMEZONE; today is never deleted)',
  flags: CLEAN_FLAGS,
  examples: ['npm run cli -- clean --days 30 --dry-run', 'npm run cli -- clean --days 90 --organization acme'],
  async run({ app: context, options, out }) {
    const query = validateFlags(ArchiveCleanQueryDto, options, CLEAN_FLAGS);
    const app = await context();
    const result = await app.get(LogStorageService).cleanOldLogs(
      definedOnly({
        daysToKeep: query.days_to_keep ?? app.get(AppConfig).retentionDays,
        dryRun: query.dry_run ?? false,
        organizationId: query.organization_id,
        actor: { route: 'cli' },
      }),
    );
    if (options.json) {
      out.line(JSON.stringify(result, null, 2));
      return EXIT.done;
    }
    out.line(result.message);
    out.line(`files ${result.deleted_files}, bytes ${result.deleted_size_bytes}, days ${result.first_day ?? '-'} to ${result.last_day ?? '-'}`);
    return EXIT.done;
  },
};
