import { Injectable } from '@nestjs/common';
import * as path from 'node:path';
import { AppConfig } from '../config/app-config';
import { JsonStateFile } from './json-state-file';
import type { SourceState } from './jobs.types';

interface CheckpointsDocument {
  version: 1;
  sources: SourceState[];
}

/** Per-source checkpoints and last-run facts in `<LOGS_DIR>/state/checkpoints.json`. */
@Injectable()
export class CheckpointRepository {
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

  /** Read-change-write under the file's cross-process lock; resolves with the states written. */
  async update(change: (stored: SourceState[]) => SourceState[]): Promise<SourceState[]> {
    const doc = await this.file.update((current) => ({
      version: 1,
      sources: change(Array.isArray(current?.sources) ? current.sources.filter((s) => s && typeof s.key === 'string') : []),
    }));
    return doc.sources;
  }
}
