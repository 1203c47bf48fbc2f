import { loadConfigFromEnvironment } from '../config/load-environment';
import { CliCommand, stringOption, UsageError } from './cli-command';

/**
 * `migrate-catalog --to postgres [--rebuild]`: fills the PostgreSQL catalog (DATABASE_URL) from the
 * SQLite catalog in LOGS_DIR, or from the archive files with --rebuild, copies the state in LOGS_DIR/state
 * (job history, checkpoints, erasures, audit log) and checks the counts at the end. It runs on the
 * configuration alone, so no catalog is opened (or rebuilt) before it starts.
 */
export const migrateCatalogCommand: CliCommand = {
  name: 'migrate-catalog',
  summary:
    'copy the SQLite catalog (or rebuild it from the files) and the state (job history, checkpoints, erasures, audit log) into PostgreSQL (DATABASE_URL); exit code 1 when the counts differ',
  flags: {
    to: { type: 'string', value: 'postgres', required: true, description: 'the catalog to fill; postgres is the only target' },
    rebuild: { type: 'boolean', description: 'read the archive files instead of the SQLite catalog' },
  },
  examples: ['DATABASE_URL=postgres://vault@db/vault npm run cli -- migrate-catalog --to postgres'],
  async run({ options, out }) {
    if (stringOption(options, 'to') !== 'postgres') throw new UsageError('--to postgres is the only target');
    const config = loadConfigFromEnvironment();
    const url = config.catalog.databaseUrl;
    if (!url) throw new UsageError('DATABASE_URL must be set to the PostgreSQL database to fill');
    // the PostgreSQL driver is loaded only for this command, not by every other command of the CLI
    const { migrateToPostgres } = await import('./migrate-catalog');
    return migrateToPostgres(config, url, options.rebuild === true, out);
  },
};
