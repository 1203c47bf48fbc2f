import type { S3ArchiveStore } from './s3-archive-store';

type S3Settings = ConstructorParameters<typeof S3ArchiveStore>[0];

/**
 * An S3 archive store, its module (and with it the AWS SDK, about 20 MB once loaded) required only now: an
 * archive of files never loads it. Used for the archive itself and for the off-site copy.
 */
export function newS3ArchiveStore(settings: S3Settings): S3ArchiveStore {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require('./s3-archive-store') as typeof import('./s3-archive-store');
  return new loaded.S3ArchiveStore(settings);
}
