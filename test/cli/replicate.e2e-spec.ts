/** `replicate`: an off-site copy of LOGS_DIR in a real S3 bucket (Ceph RADOS Gateway on loopback), and its restore. */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { conversation } from '../archive/archive-fixtures';
import { listAllFiles } from '../support/archive';
import { createBucket, deleteBucket, s3Client, S3Instance, startS3 } from '../support/ceph-rgw';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { makeTempDir } from '../support/test-app';
import { builtCli, CliRun, runCli, seedArchive } from './cli-kit';

jest.setTimeout(300_000);

describe('CLI replicate (node dist/cli.js)', () => {
  let cli: string;
  let s3: S3Instance;
  let client: S3Client;
  let bucket: string;
  let primary: string;
  let restored: string;
  let cwd: string;
  const buckets: string[] = [];
  const env = (logsDir: string) => ({
    LOGS_DIR: logsDir,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_BUCKET_NAME: bucket,
    S3_ACCESS_KEY: s3.accessKeyId,
    S3_SECRET_KEY: s3.secretAccessKey,
    S3_PREFIX: 'offsite/',
  });
  const run = (logsDir: string, ...args: string[]): Promise<CliRun> => runCli(cli, args, env(logsDir), cwd);
  const tree = (root: string) =>
    listAllFiles(path.join(root, 'conversations'))
      .map((f) => path.relative(root, f))
      .sort();

  beforeAll(async () => {
    cli = await builtCli();
    s3 = await startS3();
    client = s3Client(s3);
    bucket = await createBucket(client, 'replicate');
    primary = makeTempDir('vault-primary-');
    restored = makeTempDir('vault-restored-');
    cwd = makeTempDir('vault-cli-cwd-');
    await seedArchive(primary, [
      conversation({ created_at: '2024-01-15T09:00:00.000Z', name: 'Refund for order 1042' }),
      conversation({ created_at: '2024-01-16T10:00:00.000Z', app_id: 'sales-bot' }),
      conversation({ created_at: '2024-01-17T11:00:00.000Z', organization_id: null }),
    ]);
  });
  afterAll(async () => {
    if (bucket) await deleteBucket(client, bucket);
    for (const b of buckets) await deleteBucket(client, b);
    client?.destroy();
  });

  it('copies new and changed files only, verified, and deletes nothing without --delete', async () => {
    const first = await run(primary, 'replicate', '--to', 's3', '--json');
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(first.stdout)).toMatchObject({ success: true, from: 'fs', to: 's3', checked: 3, copied: 3, unchanged: 0, deleted: 0, extra: 0 });

    const again = await run(primary, 'replicate', '--to', 's3');
    expect(again).toMatchObject({ code: 0, stdout: 'fs -> s3: 3 checked, 0 copied (0 bytes), 3 unchanged\n0 in s3 only, kept (--delete removes them)\n' });

    await seedArchive(primary, [conversation({ created_at: '2024-01-18T08:00:00.000Z' })]);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'offsite/conversations/acme/2023/12/31/stray.json', Body: '{}' }));
    const next = JSON.parse((await run(primary, 'replicate', '--to', 's3', '--json')).stdout);
    expect(next).toMatchObject({ checked: 4, copied: 1, unchanged: 3, deleted: 0, extra: 1 });
    const pruned = JSON.parse((await run(primary, 'replicate', '--to', 's3', '--delete', '--json')).stdout);
    expect(pruned).toMatchObject({ checked: 4, copied: 0, unchanged: 4, deleted: 1, extra: 0 });

    // each copy is a replication job of the history; the status names the last one
    const status = await run(primary, 'replicate', '--status', '--json');
    expect(status).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(status.stdout)).toMatchObject({
      configured: true,
      target: `s3://${bucket}/offsite/`,
      last_success: { checked: 4, copied: 0, deleted: 1 },
      last_run: { status: 'succeeded', error: null },
      pending_files: 0,
    });
    const jobs = JSON.parse(fs.readFileSync(path.join(primary, 'state', 'jobs.json'), 'utf8')).jobs as { kind: string; trigger: string; status: string }[];
    expect(jobs.filter((j) => j.kind === 'replication').map((j) => [j.trigger, j.status])).toEqual(Array(4).fill(['cli', 'succeeded']));
    const line = await run(primary, 'replicate', '--status');
    expect(line.stdout).toMatch(new RegExp(`^s3://${bucket}/offsite/: last copy \\S+: 0 of 4 files copied \\(0 bytes\\); 0 conversation files not copied yet\\n$`));
  });

  it('restores the bucket into an empty LOGS_DIR byte for byte; the restored archive verifies and answers the same', async () => {
    const sut = await run(restored, 'replicate', '--from', 's3', '--to', 'fs', '--json');
    expect(sut).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(sut.stdout)).toMatchObject({ from: 's3', to: 'fs', checked: 4, copied: 4 });
    expect(tree(restored)).toEqual(tree(primary));
    for (const file of tree(primary)) expect(fs.readFileSync(path.join(restored, file))).toEqual(fs.readFileSync(path.join(primary, file)));

    const verify = await run(restored, 'verify');
    expect(verify).toMatchObject({ stderr: '', code: 0, stdout: 'checked 4: missing 0, changed 0, unindexed 0, corrupt 0\n' });
    const summary = async (dir: string) => JSON.parse((await run(dir, 'summary', '--json')).stdout);
    expect((await summary(restored)).total_files).toBe(4);
    expect((await summary(restored)).total_size_bytes).toBe((await summary(primary)).total_size_bytes);
    const exported = async (dir: string) => (await run(dir, 'export', '--start-date', '2024-01-01', '--end-date', '2024-01-31', '--format', 'ndjson')).stdout;
    expect(await exported(restored)).toBe(await exported(primary));
  });

  it('refuses to restore over an archive, and names a wrong flag', async () => {
    const over = await run(primary, 'replicate', '--from', 's3', '--to', 'fs');
    expect(over.code).toBe(1);
    expect(over.stderr).toContain('LOGS_DIR already holds an archive');
    const wrong = await run(primary, 'replicate', '--to', 'gcs');
    expect(wrong).toMatchObject({ code: 2, stderr: expect.stringContaining('--to must be fs or s3') });
    const same = await run(primary, 'replicate', '--from', 's3', '--to', 's3');
    expect(same).toMatchObject({ code: 2, stderr: expect.stringContaining('--from and --to must be different stores') });
    const none = await run(primary, 'replicate');
    expect(none).toMatchObject({ code: 2, stderr: expect.stringContaining('--to is required') });
    const mixed = await run(primary, 'replicate', '--status', '--to', 's3');
    expect(mixed).toMatchObject({ code: 2, stderr: expect.stringContaining('--status takes no --to, --from, --delete or --force-delete') });
    const force = await run(primary, 'replicate', '--to', 's3', '--force-delete');
    expect(force).toMatchObject({ code: 2, stderr: expect.stringContaining('--force-delete goes with --delete') });
    for (const r of [over, wrong, same, none, mixed, force]) expect(r.stdout + r.stderr).not.toContain(s3.secretAccessKey);
  });

  it('never empties the copy from an empty LOGS_DIR, and deletes more than half of it only with --force-delete', async () => {
    const keys = async () => ((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'offsite/conversations/' }))).Contents ?? []).map((o) => o.Key!);
    const held = await keys();
    expect(held).toHaveLength(4);

    const empty = await run(makeTempDir('vault-unmounted-'), 'replicate', '--to', 's3', '--delete', '--force-delete');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('refused to delete: the source holds no objects while the target holds 4');
    expect(await keys()).toEqual(held);

    const few = makeTempDir('vault-few-');
    await seedArchive(few, [conversation({ created_at: '2024-01-15T09:00:00.000Z', name: 'Refund for order 1042' })]);
    const half = await run(few, 'replicate', '--to', 's3', '--delete');
    expect(half.code).toBe(1);
    expect(half.stderr).toContain("objects: more than half of it (is the source the right archive?); nothing was deleted, --force-delete deletes them");
    // the copy itself is done; only the deletions are refused
    expect(await keys()).toEqual(expect.arrayContaining(held));
    for (const r of [empty, half]) expect(r.stdout + r.stderr).not.toContain(s3.secretAccessKey);
  });

  it('with ARCHIVE_STORAGE=s3, --to s3 copies the archive bucket (not LOGS_DIR) to the replica bucket; what makes no sense is refused', async () => {
    const archive = await createBucket(client, 'archive');
    const replica = await createBucket(client, 'replica');
    buckets.push(archive, replica);
    // the archive bucket filled from the fs archive
    const seeded = await runCli(cli, ['replicate', '--to', 's3', '--json'], { ...env(primary), S3_BUCKET_NAME: archive, S3_PREFIX: 'vault/' }, cwd);
    expect(JSON.parse(seeded.stdout)).toMatchObject({ checked: 4, copied: 4 });
    const local = makeTempDir('vault-s3-state-');
    const inBucket = { ...env(local), ARCHIVE_STORAGE: 's3', S3_BUCKET_NAME: archive, S3_PREFIX: 'vault/' };
    const replicaEnv = { ...inBucket, REPLICATE_S3_BUCKET_NAME: replica, REPLICATE_S3_PREFIX: 'copy/' };

    const sut = await runCli(cli, ['replicate', '--to', 's3', '--json'], replicaEnv, cwd);

    expect(sut).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(sut.stdout)).toMatchObject({ success: true, from: 's3', to: 's3', checked: 4, copied: 4, deleted: 0 });
    const copied = ((await client.send(new ListObjectsV2Command({ Bucket: replica, Prefix: 'copy/conversations/' }))).Contents ?? []).map((o) => o.Key!.slice('copy/'.length));
    expect(copied.sort()).toEqual(tree(primary));
    await client.send(new PutObjectCommand({ Bucket: replica, Key: 'copy/conversations/acme/2023/12/31/stray.json', Body: '{}' }));
    const pruned = await runCli(cli, ['replicate', '--to', 's3', '--delete', '--json'], replicaEnv, cwd);
    expect(JSON.parse(pruned.stdout)).toMatchObject({ checked: 4, copied: 0, unchanged: 4, deleted: 1 });

    const noReplica = await runCli(cli, ['replicate', '--to', 's3', '--delete'], inBucket, cwd);
    expect(noReplica).toMatchObject({ code: 2, stderr: expect.stringContaining('with ARCHIVE_STORAGE=s3, REPLICATE_S3_BUCKET_NAME must name the replica bucket (S3_BUCKET_NAME is the archive itself)') });
    const fromFs = await runCli(cli, ['replicate', '--from', 'fs', '--to', 's3'], replicaEnv, cwd);
    expect(fromFs).toMatchObject({ code: 2, stderr: expect.stringContaining('with ARCHIVE_STORAGE=s3 the archive is in S3_BUCKET_NAME, not LOGS_DIR') });
    const restore = await runCli(cli, ['replicate', '--from', 's3', '--to', 'fs'], replicaEnv, cwd);
    expect(restore).toMatchObject({ code: 2, stderr: expect.stringContaining('with ARCHIVE_STORAGE=s3 the archive is not in LOGS_DIR') });
    expect(((await client.send(new ListObjectsV2Command({ Bucket: archive, Prefix: 'vault/conversations/' }))).Contents ?? []).length).toBe(4);
    for (const r of [sut, pruned, noReplica, fromFs, restore]) expect(r.stdout + r.stderr).not.toContain(s3.secretAccessKey);
  });
});
