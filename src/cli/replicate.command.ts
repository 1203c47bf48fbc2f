import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfigFromEnvironment } from '../config/load-environment';
import { FsArchiveStore } from '../log-storage/fs/fs-archive-store';
import { REPLICATED_FOLDERS, replicate, type ReplicationResult } from '../log-storage/replication';
import { ReplicationService, type ReplicationStatus } from '../backup/replication.service';
import type { Job } from '../backup/jobs.types';
import { ConflictError } from '../common/domain-errors';
import { newS3ArchiveStore } from '../log-storage/s3/s3-archive-store.lazy';
import { CliCommand, EXIT, stringOption, UsageError } from './cli-command';
import { TerminalProgress } from './progress';

const STORES = ['fs', 's3'] as const;
type StoreName = (typeof STORES)[number];

function storeName(value: string | undefined, flag: string, fallback: StoreName): StoreName {
  const name = value ?? fallback;
  if (!(STORES as readonly string[]).includes(name)) throw new UsageError(`--${flag} must be fs or s3`);
  return name as StoreName;
}

/**
 * `replicate --to s3` copies the archive (ARCHIVE_STORE: LOGS_DIR, or with ARCHIVE_STORAGE=s3 the S3_*
 * bucket) into the replica bucket (REPLICATE_S3_*, else with ARCHIVE_STORAGE=fs the S3_* bucket) as a
 * replication job, recorded like the scheduled ones; `replicate --from s3 --to fs` restores the replica
 * bucket into an empty LOGS_DIR (ARCHIVE_STORAGE=fs). New and changed objects only, each read back and
 * compared; nothing is deleted in the target without `--delete`, and not more than half of it without
 * `--force-delete`.
 */
export const replicateCommand: CliCommand = {
  name: 'replicate',
  summary: 'copy the archive between LOGS_DIR (fs) and the replica bucket (s3: REPLICATE_S3_*, else S3_*): new and changed files only, verified; nothing deleted without --delete',
  flags: {
    to: { type: 'string', value: 'fs|s3', description: 'where to copy to (required unless --status)' },
    from: { type: 'string', value: 'fs|s3', description: 'where to copy from (default: the other one)' },
    delete: { type: 'boolean', description: 'delete what the target holds and the source does not (refused when the source is empty, or for more than half of the target)' },
    'force-delete': { type: 'boolean', description: 'with --delete: delete even more than half of the target (never when the source is empty)' },
    status: { type: 'boolean', description: 'print the last successful copy to the replica bucket and what is not copied yet' },
    json: { type: 'boolean', description: 'print the result as JSON' },
  },
  examples: ['npm run cli -- replicate --to s3', 'npm run cli -- replicate --from s3 --to fs', 'npm run cli -- replicate --status'],
  async run({ app, options, out }) {
    if (options.status === true) {
      if (stringOption(options, 'to') !== undefined || stringOption(options, 'from') !== undefined || options.delete === true || options['force-delete'] === true) {
        throw new UsageError('--status takes no --to, --from, --delete or --force-delete');
      }
      const status = await (await app()).get(ReplicationService).status();
      if (options.json) out.line(JSON.stringify(status, null, 2));
      else out.line(describeStatus(status));
      return EXIT.done;
    }
    if (stringOption(options, 'to') === undefined) throw new UsageError('--to is required');
    const to = storeName(stringOption(options, 'to'), 'to', 'fs');
    const from = storeName(stringOption(options, 'from'), 'from', to === 's3' ? 'fs' : 's3');
    if (from === to) throw new UsageError('--from and --to must be different stores');
    if (options['force-delete'] === true && options.delete !== true) throw new UsageError('--force-delete goes with --delete');
    const config = loadConfigFromEnvironment();
    const archiveInBucket = config.archive.storage === 's3';
    if (archiveInBucket && to === 'fs') {
      throw new UsageError('with ARCHIVE_STORAGE=s3 the archive is not in LOGS_DIR: restore the replica bucket with ARCHIVE_STORAGE=fs (S3_* or REPLICATE_S3_* naming the replica)');
    }
    if (archiveInBucket && stringOption(options, 'from') === 'fs') {
      throw new UsageError('with ARCHIVE_STORAGE=s3 the archive is in S3_BUCKET_NAME, not LOGS_DIR: `replicate --to s3` copies it to the replica bucket');
    }
    const settings = config.replication.s3;
    if (!settings) {
      throw new UsageError(
        archiveInBucket
          ? 'with ARCHIVE_STORAGE=s3, REPLICATE_S3_BUCKET_NAME must name the replica bucket (S3_BUCKET_NAME is the archive itself)'
          : 'REPLICATE_S3_BUCKET_NAME or S3_BUCKET_NAME (with the access keys, or S3_USE_AWS_MANAGED_IAM) must name the bucket',
      );
    }
    // what the output names as the source: with --to s3 the archive's store
    const source: StoreName = to === 's3' ? config.archive.storage : from;
    const remove = options.delete === true;
    const progress = new TerminalProgress(out.terminal);
    const onProgress = (p: ReplicationResult) => progress.update(null, `${p.checked} checked, ${p.copied} copied (${Math.round(progress.perSecond(p.checked))}/s)`);
    const report = (result: ReplicationResult) => {
      progress.clear();
      if (options.json) out.line(JSON.stringify({ success: true, from: source, to, ...result }, null, 2));
      else {
        out.line(`${source} -> ${to}: ${result.checked} checked, ${result.copied} copied (${result.copied_bytes} bytes), ${result.unchanged} unchanged`);
        out.line(remove ? `${result.deleted} deleted in ${to}` : `${result.extra} in ${to} only, kept (--delete removes them)`);
      }
    };
    if (to === 's3') {
      // the archive (whichever store holds it) to its off-site copy: a replication job, in the job history and the replication status
      const service = (await app()).get(ReplicationService);
      let job: Job;
      try {
        job = await service.run({ trigger: 'cli', delete: remove, forceDelete: options['force-delete'] === true, onProgress });
      } catch (e) {
        progress.clear();
        if (e instanceof ConflictError) {
          out.error(`refused: ${e.message}`);
          return EXIT.locked;
        }
        throw e;
      }
      const { error, target: _target, ...result } = job.replication!;
      if (job.status !== 'succeeded') {
        progress.clear();
        out.error(`replication job ${job.id} ${job.status}: ${error ?? job.message}`);
        return job.status === 'interrupted' ? EXIT.interrupted : EXIT.failed;
      }
      report(result);
      return EXIT.done;
    }
    // the replica bucket into an empty LOGS_DIR
    const held = REPLICATED_FOLDERS.filter((f) => fs.existsSync(path.join(config.logsDir, f)) && fs.readdirSync(path.join(config.logsDir, f)).length);
    if (held.length) {
      out.error(`LOGS_DIR already holds an archive (${held.join(', ')} in ${config.logsDir}): restore into an empty LOGS_DIR`);
      return EXIT.failed;
    }
    const bucket = newS3ArchiveStore(settings);
    const local = new FsArchiveStore(config.logsDir);
    try {
      await bucket.checkAccess();
      report(await replicate(bucket, local, { delete: remove, forceDelete: options['force-delete'] === true, concurrency: config.replication.concurrency, onProgress }));
      return EXIT.done;
    } finally {
      await bucket.close();
      await local.close();
    }
  },
};

function describeStatus(status: ReplicationStatus): string {
  if (!status.configured) return 'no replica bucket is configured (REPLICATE_S3_BUCKET_NAME, or S3_BUCKET_NAME with ARCHIVE_STORAGE=fs)';
  const last = status.last_success
    ? `last copy ${status.last_success.finished_at}: ${status.last_success.copied} of ${status.last_success.checked} files copied (${status.last_success.copied_bytes} bytes)`
    : 'no copy yet';
  const failed = status.last_run?.status === 'failed' ? `; the last run failed: ${status.last_run.error ?? 'unknown error'}` : '';
  const pending = status.pending_files === null ? 'the files not copied yet are counted once the catalog is rebuilt' : `${status.pending_files} conversation files not copied yet`;
  return `${status.target}: ${last}; ${pending}${failed}`;
}
