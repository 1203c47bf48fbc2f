import { AppConfig } from '../config/app-config';
import { LogStorageService } from '../log-storage/log-storage.service';
import { CliCommand, intOption, stringOption } from './cli-command';

/** `reindex`: drops the catalog and rebuilds it from the files. */
export const reindexCommand: CliCommand = {
  usage: 'reindex',
  summary: 'drop the catalog and rebuild it from the files',
  options: {},
  async run(app, _options, out) {
    const result = await app.get(LogStorageService).reindex();
    out.line(`indexed ${result.indexed} files in ${result.duration_ms} ms`);
    for (const s of result.skipped) out.line(`skipped ${s.path}: ${s.reason}`);
    out.line(`skipped ${result.skipped.length} files`);
    return 0;
  },
};

/** `verify`: re-hashes every file; exit code 1 when anything differs. */
export const verifyCommand: CliCommand = {
  usage: 'verify',
  summary: 're-hash every file against the catalog; exit code 1 when anything differs',
  options: {},
  async run(app, _options, out) {
    const r = await app.get(LogStorageService).verify();
    for (const [kind, paths] of [['missing', r.missing], ['changed', r.changed], ['unindexed', r.unindexed], ['corrupt', r.corrupt]] as const) {
      for (const p of paths) out.line(`${kind} ${p}`);
    }
    out.line(`checked ${r.checked}: missing ${r.missing.length}, changed ${r.changed.length}, unindexed ${r.unindexed.length}, corrupt ${r.corrupt.length}`);
    return r.missing.length + r.changed.length + r.unindexed.length + r.corrupt.length === 0 ? 0 : 1;
  },
};

/** `clean`: retention by hand. */
export const cleanCommand: CliCommand = {
  usage: 'clean --days N [--dry-run] [--organization ID]',
  summary: 'delete day folders older than N days (default LOG_RETENTION_DAYS)',
  options: { days: { type: 'string' }, 'dry-run': { type: 'boolean' }, organization: { type: 'string' } },
  async run(app, options, out) {
    const organizationId = stringOption(options, 'organization');
    const result = await app.get(LogStorageService).cleanOldLogs({
      daysToKeep: intOption(options, 'days') ?? app.get(AppConfig).retentionDays,
      dryRun: options['dry-run'] === true,
      ...(organizationId ? { organizationId } : {}),
    });
    out.line(result.message);
    out.line(`files ${result.deleted_files}, bytes ${result.deleted_size_bytes}, days ${result.first_day ?? '-'} to ${result.last_day ?? '-'}`);
    return 0;
  },
};
