import { Injectable } from '@nestjs/common';
import * as path from 'node:path';
import { AppConfig } from '../config/app-config';
import { JsonStateFile } from './json-state-file';
import type { Job } from './jobs.types';

/**
 * Where the job history lives: `<LOGS_DIR>/state/jobs.json`, or PostgreSQL when DATABASE_URL is set.
 * Newest first; shared by every process on the archive.
 */
export interface JobHistoryRepository {
  load(): Promise<Job[]>;
  save(jobs: Job[]): Promise<void>;
  /** Read-change-write as one step across processes; resolves with the jobs written. */
  update(change: (stored: Job[]) => Job[]): Promise<Job[]>;
}

export const JOB_HISTORY_REPOSITORY = Symbol('JOB_HISTORY_REPOSITORY');

interface JobsDocument {
  version: 1;
  jobs: Job[];
}

/** Job history in `<LOGS_DIR>/state/jobs.json`, newest first. */
@Injectable()
export class FileJobHistoryRepository implements JobHistoryRepository {
  private readonly file: JsonStateFile<JobsDocument>;

  constructor(config: AppConfig) {
    this.file = new JsonStateFile(path.join(config.logsDir, 'state', 'jobs.json'));
  }

  async load(): Promise<Job[]> {
    const doc = await this.file.read();
    return Array.isArray(doc?.jobs) ? doc.jobs : [];
  }

  save(jobs: Job[]): Promise<void> {
    return this.file.write({ version: 1, jobs });
  }

  /** Under the file's cross-process lock. */
  async update(change: (stored: Job[]) => Job[]): Promise<Job[]> {
    const doc = await this.file.update((current) => ({ version: 1, jobs: change(Array.isArray(current?.jobs) ? current.jobs : []) }));
    return doc.jobs;
  }
}
