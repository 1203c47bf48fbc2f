import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { mapConcurrent, readAhead } from '../common/concurrency';
import { orgAppLabel } from '../common/org-app-label';
import { DifyClientFactory } from '../dify/dify-client.factory';
import { PAGE_LIMIT } from '../dify/paging';
import type { ConversationRef, CrawlWindow, DifyApp, DifyAppClient, DifySource } from '../dify/dify.types';
import { toArchivedConversation } from '../dify/normalise';
import { isStorageFailure } from '../log-storage/log-storage.errors';
import { LogStorageService } from '../log-storage/log-storage.service';
import { ErasureRegistry } from '../log-storage/privacy/erasure-registry';
import { Redactor, type RedactionCounts } from '../common/redaction/redactor';
import type { BackupConnection, BackupProgress, BackupResult, BackupRunRequest, ConversationError } from './backup.types';
import { archiveStopError, describeResult } from './backup-result';

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One backup run of one source: list the conversations active in the window, fetch every message,
 * normalise, save. A failed conversation is reported, never saved with missing messages. Callers keep
 * runs of one source apart (JobsService holds the per-source lock).
 */
@Injectable()
export class BackupService {
  private readonly logger = new Logger(BackupService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly clients: DifyClientFactory,
    private readonly storage: LogStorageService,
    private readonly erasures: ErasureRegistry,
    private readonly redactor: Redactor,
  ) {}


  /** The cheapest side-effect-free call that proves the credentials work. */
  async check(source: DifySource): Promise<{ app: DifyApp; accessMode: DifyAppClient['accessMode'] }> {
    const { client, app } = await this.connect(source);
    return { app, accessMode: client.accessMode };
  }

  /** Reaches the app (one request; a console login signs in once): throws the Dify error when it cannot. */
  async connect(source: DifySource): Promise<BackupConnection> {
    const client = this.clients.create(source);
    return { client, app: await client.getApp() };
  }

  /** Throws the Dify error (and writes nothing) when the app cannot be reached or the credentials are refused. */
  async run({ source, window, connection, signal, onProgress, done }: BackupRunRequest): Promise<BackupResult> {
    const { client, app } = connection ?? (await this.connect(source));
    const coverage = client.coverage(app);
    const label = orgAppLabel(source);
    // one line per window (a catch-up runs one per day): debug; the job logs one summary line per source
    this.logger.debug(`Started backup of ${label} (${client.accessMode}, ${app.mode}) ${describeWindow(window)}`);

    const progress: BackupProgress = { seen: 0, saved: 0, unchanged: 0, failed: 0 };
    const counts = { created: 0, updated: 0, erased: 0 };
    const redactions: RedactionCounts = Object.fromEntries(this.redactor.kinds.map((k) => [k, 0]));
    const isErased = await this.erasures.matcher();
    const filePaths: string[] = [];
    const errors: ConversationError[] = [];
    const warnings = [...coverage.warnings];
    let interrupted = false;
    let storageFailure: NodeJS.ErrnoException | undefined;
    const report = () => onProgress?.({ ...progress });

    const failed = (ref: ConversationRef, error: unknown) => {
      progress.failed++;
      errors.push({ conversation_id: ref.id, error: errorText(error) });
      // a full or read-only disk fails every later write too: stop listing instead of fetching in vain
      if (isStorageFailure(error)) storageFailure ??= error;
      report();
    };

    /** The conversation with every message, or null when fetching it failed (counted). */
    const fetchOne = async (ref: ConversationRef) => {
      try {
        const messages = await client.getMessages(app, ref);
        return toArchivedConversation(
          { app, accessMode: client.accessMode, conversation: ref.raw, messages, ...(ref.user ? { user: ref.user } : {}) },
          { appId: source.app_id, organizationId: source.organization_id ?? null, loggedAt: new Date() },
        );
      } catch (error) {
        failed(ref, error);
        return null;
      }
    };

    const saveOne = async (ref: ConversationRef, archived: ReturnType<typeof toArchivedConversation>) => {
      // after a full or read-only disk, a conversation fetched meanwhile fails the same way without a write
      if (storageFailure) {
        failed(ref, storageFailure);
        return;
      }
      try {
        if (isErased(archived)) {
          // an erased end user: never written again, only counted
          counts.erased++;
          done?.add(ref.id);
          report();
          return;
        }
        const { conversation, counts: replaced } = this.redactor.redactConversation(archived);
        for (const [kind, n] of Object.entries(replaced)) redactions[kind] = (redactions[kind] ?? 0) + n;
        const saved = await this.storage.saveConversation(conversation);
        if (saved.outcome === 'unchanged') {
          progress.unchanged++;
        } else {
          progress.saved++;
          counts[saved.outcome as 'created' | 'updated']++;
          filePaths.push(saved.path);
        }
        done?.add(ref.id);
        report();
      } catch (error) {
        failed(ref, error);
      }
    };

    // Saving (a synced file and a catalog row) is off the fetching calls: the next request to Dify starts
    // while the last conversation is being written, so the requests in flight stay at `concurrency`. At most
    // `concurrency` saves wait or run at once (memory stays bounded; a slow disk slows the fetching down).
    const saving = new Set<Promise<void>>();
    const fetchAndSave = async (ref: ConversationRef) => {
      const archived = await fetchOne(ref);
      if (!archived) return;
      while (saving.size >= this.config.dify.concurrency) await Promise.race(saving);
      const save: Promise<void> = saveOne(ref, archived).finally(() => saving.delete(save));
      saving.add(save);
    };

    const stop = (): boolean => {
      if (signal?.aborted) interrupted = true;
      return interrupted || storageFailure !== undefined;
    };
    // the pool lets every save under way finish before it returns or throws: the counts include them all
    try {
      // the next page of the listing is fetched while the current one is being worked on
      await mapConcurrent(
        readAhead(client.listConversations(app, window), PAGE_LIMIT),
        this.config.dify.concurrency,
        async (ref) => {
          // its messages were all fetched by an earlier day of this run, before the run's end: nothing new to see
          if (done?.has(ref.id)) return;
          progress.seen++;
          await fetchAndSave(ref);
        },
        { stop },
      );
    } catch (error) {
      // listing itself failed part way: what was saved stays saved, the run is reported as failed
      errors.push({ conversation_id: '*', error: `listing conversations failed: ${errorText(error)}` });
    } finally {
      while (saving.size) await Promise.all(saving);
    }
    if (storageFailure) errors.push(archiveStopError(storageFailure.code));
    for (const w of client.takeWarnings?.() ?? []) if (!warnings.includes(w)) warnings.push(w);

    const success = errors.length === 0 && !interrupted;
    const log = `${success ? 'Finished' : 'Failed'} backup of ${label}: seen=${progress.seen} saved=${progress.saved} unchanged=${progress.unchanged} failed=${progress.failed}`;
    this.logger.debug(log);

    const result: BackupResult = {
      success,
      message: '',
      app_id: source.app_id,
      organization_id: source.organization_id ?? null,
      access_mode: client.accessMode,
      app_mode: app.mode,
      total_conversations: progress.seen,
      saved_count: progress.saved,
      created_count: counts.created,
      updated_count: counts.updated,
      unchanged_count: progress.unchanged,
      failed_count: progress.failed,
      erased_skipped_count: counts.erased,
      redactions,
      file_paths: filePaths,
      errors,
      coverage,
      warnings,
      window: { start: window.start?.toISOString() ?? null, end: window.end?.toISOString() ?? null },
      interrupted,
    };
    result.message = describeResult(result);
    return result;
  }
}

function describeWindow(window: CrawlWindow): string {
  const start = window.start?.toISOString() ?? 'the beginning';
  const end = window.end?.toISOString() ?? 'now';
  return `from ${start} to ${end}${window.from_source ? ` (from_source ${window.from_source})` : ''}`;
}
