import { Injectable } from '@nestjs/common';
import * as path from 'node:path';
import { AppConfig } from '../config/app-config';
import { JsonStateFile } from './json-state-file';
import type { SourceState } from './jobs.types';

/**
 * Where per-source checkpoints and last-run facts live: `<LOGS_DIR>/state/checkpoints.json`, or
 * PostgreSQL when DATABASE_URL is set.
 */
export interface CheckpointRepository {
  load(): Promise<SourceState[]>;
  save(states: SourceState[]): Promise<void>;
  /** Read-change-write as one step across processes; resolves with the states written. */
  update(change: (stored: SourceState[]) => SourceState[]): Promise<SourceState[]>;
}

export const CHECKPOINT_REPOSITORY = Symbol('CHECKPOINT_REPOSITORY');

interface CheckpointsDocument {
  version: 1;
  sources: SourceState[];
}

/** Per-source checkpoints and last-run facts in `<LOGS_DIR>/state/checkpoints.json`. */
@Injectable()
export class FileCheckpointRepository implements CheckpointRepository {
  private readonly file: JsonStateFile<CheckpointsDocument>;

  constructor(config: AppConfig) {
    this.file = new JsonStateFile(path.join(config.logsDir, 'state', 'checkpoints.json'));
  }

  async load(): Promise<SourceState[]> {
    const doc = await this.file.read();
    return Array.isArray(doc?.sources) ? doc.sources : [];
  }

  save(states: SourceState[]): Promise<void> {
    return this.file.write({ version: 1, sources: states });
  }

  /** Under the file's cross-process lock. */
  async update(change: (stored: SourceState[]) => SourceState[]): Promise<SourceState[]> {
    const doc = await this.file.update((current) => ({
      version: 1,
      sources: change(Array.isArray(current?.sources) ? current.sources.filter((s) => s && typeof s.key === 'string') : []),
    }));
    return doc.sources;
  }
}
