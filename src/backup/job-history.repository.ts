import { Injectable } from '@nestjs/common';
import * as path from 'node:path';
import { AppConfig } from '../config/app-config';
import { JsonStateFile } from './json-state-file';
import type { Job } from './jobs.types';

interface JobsDocument {
  version: 1;
  jobs: Job[];
}

/** Job history in `<LOGS_DIR>/state/jobs.json`, newest first. */
@Injectable()
export class JobHistoryRepository {
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

  /** Read-change-write under the file's cross-process lock; resolves with the jobs written. */
  async update(change: (stored: Job[]) => Job[]): Promise<Job[]> {
    const doc = await this.file.update((current) => ({ version: 1, jobs: change(Array.isArray(current?.jobs) ? current.jobs : []) }));
    return doc.jobs;
  }
}
