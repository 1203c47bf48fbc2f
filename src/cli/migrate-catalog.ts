import * as path from 'node:path';
import { FileCheckpointRepository } from '../backup/checkpoint.repository';
import { FileJobHistoryRepository } from '../backup/job-history.repository';
import { PostgresCheckpointRepository } from '../backup/postgres/postgres-checkpoint.repository';
import { PostgresJobHistoryRepository } from '../backup/postgres/postgres-job-history.repository';
import { StateDatabase } from '../backup/postgres/state-database';
import type { AppConfig } from '../config/app-config';
import { ArchiveAccess } from '../log-storage/archive-access';
import { ArchiveFiles } from '../log-storage/archive-files';
import { ArchiveMaintenance } from '../log-storage/archive-maintenance.service';
import { FsArchiveStore } from '../log-storage/fs/fs-archive-store';
import { PostgresCatalog } from '../log-storage/postgres/postgres-catalog';
import { PostgresPrivacy } from '../log-storage/postgres/postgres-privacy';
import { FileAuditLog } from '../log-storage/privacy/audit-log';
import { FileErasureRegistry } from '../log-storage/privacy/erasure-registry';
import { CATALOG_FILE } from '../log-storage/sqlite/catalog-schema';
import { readSqliteCatalog } from '../log-storage/sqlite/sqlite-catalog-reader';
import { CliOutput, EXIT } from './cli-command';

/** What one copy of a state table did: rows added, and rows already there (left as they are). */
interface TableCopy {
  copied: number;
  present: number;
}

/** Adds the items the target lacks (by key), keeping what it holds: newer state written there is never overwritten. */
function addMissing<T>(stored: T[], items: T[], key: (item: T) => string, copy: TableCopy): T[] {
  const known = new Set(stored.map(key));
  const added = items.filter((item) => !known.has(key(item)));
  copy.copied = added.length;
  copy.present = items.length - added.length;
  return [...stored, ...added];
}

/**
 * The state in LOGS_DIR/state (job history, checkpoints, erasures with their salt, the audit log) into
 * PostgreSQL, one line per table. What is there already is kept, so a second run copies nothing again.
 */
async function copyState(config: AppConfig, url: string, out: CliOutput): Promise<void> {
  const state = new StateDatabase(url);
  const privacy = new PostgresPrivacy(url);
  try {
    const jobs: TableCopy = { copied: 0, present: 0 };
    const fileJobs = await new FileJobHistoryRepository(config).load();
    await new PostgresJobHistoryRepository(state).update((stored) => addMissing(stored, fileJobs, (job) => job.id, jobs));
    out.line(`job history: ${jobs.copied} copied, ${jobs.present} already there`);

    const checkpoints: TableCopy = { copied: 0, present: 0 };
    const fileCheckpoints = await new FileCheckpointRepository(config).load();
    await new PostgresCheckpointRepository(state).update((stored) => addMissing(stored, fileCheckpoints, (s) => s.key, checkpoints));
    out.line(`checkpoints: ${checkpoints.copied} copied, ${checkpoints.present} already there`);

    const erasureFile = await new FileErasureRegistry(config).snapshot();
    const erasures = erasureFile ? await privacy.erasures.importState(erasureFile) : { copied: 0, present: 0 };
    out.line(`erasures: ${erasures.copied} copied, ${erasures.present} already there`);

    const audit = await privacy.audit.importLines(new FileAuditLog(config).lines());
    out.line(`audit log: ${audit.copied} copied, ${audit.present} already there`);
  } catch (error) {
    throw new Error(`copying the state into PostgreSQL failed: ${state.scrub(error)}`);
  } finally {
    await privacy.onApplicationShutdown();
    await state.close();
  }
}

/**
 * Fills the PostgreSQL catalog at `url` from the SQLite catalog in LOGS_DIR, or from the archive files with
 * `rebuild`, copies the state in LOGS_DIR/state and checks the counts at the end; resolves with the exit code.
 */
export async function migrateToPostgres(config: AppConfig, url: string, rebuild: boolean, out: CliOutput): Promise<number> {
  const target = new PostgresCatalog({ url, ftsLanguage: config.catalog.ftsLanguage });
  await target.open();
  try {
    let expected: number;
    if (rebuild) {
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
    await copyState(config, url, out);
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
}
