import type { CrawlWindow, DifyApp, DifyAppClient, DifySource } from '../dify/dify.types';
import type { Job, JobSource } from './jobs.types';

/** One source inside a running job, as the job lifecycle hands it over. */
export interface SourceRun {
  job: Pick<Job, 'id' | 'trigger' | 'window'>;
  entry: JobSource;
  source: DifySource;
  /** absent: catch up from the checkpoint */
  window?: CrawlWindow;
  signal: AbortSignal;
  /** the entry's progress changed */
  onProgress(): void;
  /** a slice is done: a moment to write the job history */
  onSlice(): Promise<void>;
  /** an app of a whole workspace: its client (sharing the workspace's session) and the app as listed */
  client?: DifyAppClient;
  app?: DifyApp;
}
