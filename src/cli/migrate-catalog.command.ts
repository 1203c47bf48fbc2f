import * as path from 'node:path';
import { loadConfigFromEnvironment } from '../config/load-environment';
import { ArchiveAccess } from '../log-storage/archive-access';
import { ArchiveFiles } from '../log-storage/archive-files';
import { ArchiveMaintenance } from '../log-storage/archive-maintenance.service';
import { FsArchiveStore } from '../log-storage/fs/fs-archive-store';
import { PostgresCatalog } from '../log-storage/postgres/postgres-catalog';
import { CATALOG_FILE } from '../log-storage/sqlite/catalog-schema';
import { readSqliteCatalog } from '../log-storage/sqlite/sqlite-catalog-reader';
import { CliCommand, EXIT, stringOption, UsageError } from './cli-command';

/**
 * `migrate-catalog --to postgres [--rebuild]`: fills the PostgreSQL catalog (DATABASE_URL) from the
 * SQLite catalog in LOGS_DIR, or from the archive files with --rebuild, and checks the counts at the end.
 * It runs on the configuration alone, so no catalog is opened (or rebuilt) before it starts.
 */
export const migrateCatalogCommand: CliCommand = {
  name: 'migrate-catalog',
  summary: 'copy the SQLite catalog into PostgreSQL (DATABASE_URL), or rebuild it there from the files; exit code 1 when the counts differ',
  flags: {
    to: { type: 'string', value: 'postgres', required: true, description: 'the catalog to fill; postgres is the only target' },
    rebuild: { type: 'boolean', description: 'read the archive files instead of the SQLite catalog' },
  },
  examples: ['DATABASE_URL=postgres://vault@db/vault npm run cli -- migrate-catalog --to postgres'],
  async run({ options, out }) {
    if (stringOption(options, 'to') !== 'postgres') throw new UsageError('--to postgres is the only target');
    const config = loadConfigFromEnvironment();
    if (!config.catalog.databaseUrl) throw new UsageError('DATABASE_URL must be set to the PostgreSQL database to fill');
    const target = new PostgresCatalog({ url: config.catalog.databaseUrl, ftsLanguage: config.catalog.ftsLanguage });
    await target.open();
    try {
      let expected: number;
      if (options.rebuild === true) {
        const files = new ArchiveFiles(new FsArchiveStore(config.logsDir));
        const result = await new ArchiveMaintenance(config, new ArchiveAccess(), files, target).reindex();
        for (const s of result.skipped) out.line(`skipped ${s.path}: ${s.reason}`);
        out.line(`rebuilt from the files: ${result.indexed} conversations, ${result.skipped.length} files skipped`);
        expected = result.indexed;
      } else {
        const source = path.join(config.logsDir, CATALOG_FILE);
        await target.startRebuild();
        expected = 0;
        let messages = 0;
        for (const batch of readSqliteCatalog(source)) {
          const duplicates = await target.insertMany(batch);
          if (duplicates.length) throw new Error(`the SQLite catalog holds ${duplicates[0].path} twice`);
          expected += batch.length;
          messages += batch.reduce((n, item) => n + item.messages.length, 0);
        }
        await target.finishRebuild();
        out.line(`copied ${expected} conversations and ${messages} messages from ${source}`);
      }
      const counted = await target.count();
      if (counted !== expected) {
        out.error(`count check failed: PostgreSQL holds ${counted} conversations, expected ${expected}`);
        return EXIT.failed;
      }
      out.line(`count check passed: PostgreSQL holds ${counted} conversations`);
      return EXIT.done;
    } finally {
      await target.close();
    }
  },
};
