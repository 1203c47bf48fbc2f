import { BACKUP_LOCK, BackupLock, BackupLockedError } from '../backup/backup-lock';
import { JobsService } from '../backup/jobs.service';
import type { Job, JobEvent } from '../backup/jobs.types';
import { SourceRegistry } from '../backup/source-registry';
import type { DifySource } from '../config/dify-source';
import { orgAppLabel } from '../common/org-app-label';
import { CliCommand, CliOutput, EXIT, ParsedOptions, stringOption, UsageError } from './cli-command';
import { TerminalProgress, withInterruptHandler } from './progress';

export const SOURCE_FLAGS = {
  app: { type: 'string', value: 'ID', description: 'only the configured source with this app_id' },
  organization: { type: 'string', value: 'ID', description: 'only the configured sources of this organization' },
} as const;

/** The configured sources the `--app`/`--organization` flags select; a selection matching none is a usage error. */
export function selectSources(sources: DifySource[], options: ParsedOptions, out: CliOutput): DifySource[] | null {
  const appId = stringOption(options, 'app');
  const organizationId = stringOption(options, 'organization');
  let selected = sources;
  if (appId !== undefined) selected = selected.filter((s) => s.app_id === appId);
  if (organizationId !== undefined) selected = selected.filter((s) => (s.organization_id ?? '') === organizationId);
  if (selected.length) return selected;
  if (appId !== undefined || organizationId !== undefined) {
    const what = [appId !== undefined ? `--app ${appId}` : '', organizationId !== undefined ? `--organization ${organizationId}` : ''];
    throw new UsageError(`no configured source matches ${what.filter(Boolean).join(' ')}`);
  }
  out.error('no source is configured: set DIFY_APPS_FILE or the DIFY_* variables');
  return null;
}

/**
 * `backup`: the scheduled run (catch-up from checkpoints) once, now. Exit code 0 only when every source was
 * backed up completely; 3 while another process holds the archive's backup lock; 4 when interrupted (the
 * conversations in flight finish and the next run resumes from the checkpoint).
 */
export const backupCommand: CliCommand = {
  name: 'backup',
  replaysWrites: true,
  summary: 'back up every configured source (or the selected ones) from its checkpoint to now',
  flags: SOURCE_FLAGS,
  examples: ['npm run cli -- backup', 'npm run cli -- backup --app support-bot --organization acme'],
  async run({ app: context, options, out }) {
    const app = await context();
    const sources = selectSources(app.get(SourceRegistry).list(), options, out);
    if (!sources) return EXIT.failed;

    const lock = app.get<BackupLock>(BACKUP_LOCK);
    const holder = await lock.otherHolder();
    if (holder) {
      out.error(`refused: ${new BackupLockedError(holder, lock.where).message}`);
      return EXIT.locked;
    }
    const jobs = app.get(JobsService);
    const job = jobs.startBackup({ sources, trigger: 'cli' });
    out.line(`job ${job.id}: backing up ${sources.length} sources from their checkpoints`);
    const progress = new TerminalProgress(out.terminal);
    let interrupted = false;
    await withInterruptHandler(
      () => {
        interrupted = true;
        void jobs.drain();
      },
      () =>
        new Promise<void>((resolve, reject) =>
          jobs.events(job.id).subscribe({ next: (e) => showProgress(progress, e), complete: resolve, error: reject }),
        ),
    );
    progress.clear();

    const final: Job = jobs.getOrThrow(job.id);
    for (const s of final.sources) {
      const what = s.error ?? s.result?.message ?? s.status;
      out.line(`${orgAppLabel(s)}: ${s.status}: ${what}${s.checkpoint_after ? ` (checkpoint ${s.checkpoint_after})` : ''}`);
      for (const w of s.warnings) out.line(`  warning: ${w}`);
      for (const e of (s.result?.errors ?? []).slice(0, 10)) out.line(`  failed ${e.conversation_id}: ${e.error}`);
    }
    out.line(`job ${final.id} ${final.status}: ${final.message}`);
    if (final.sources.length && final.sources.every((s) => s.error_kind === 'BackupLockedError')) {
      out.error(`refused: ${final.sources[0].error}`);
      return EXIT.locked;
    }
    if (interrupted || final.status === 'interrupted') {
      out.error(`interrupted: job ${final.id} stopped after the conversations in flight; the next backup resumes from the checkpoint`);
      return EXIT.interrupted;
    }
    return final.status === 'succeeded' ? EXIT.done : EXIT.failed;
  },
};

function showProgress(progress: TerminalProgress, e: JobEvent): void {
  if (e.type !== 'progress' || !progress.active) return;
  const p = e.progress;
  const text = `${orgAppLabel(e)} seen ${p.seen} saved ${p.saved} unchanged ${p.unchanged} failed ${p.failed} (${Math.round(progress.perSecond(p.seen))}/s)`;
  progress.update(windowFraction(e), text);
}

/** How much of the source's window the current slice has reached. */
function windowFraction(e: Extract<JobEvent, { type: 'progress' }>): number {
  if (e.status !== 'running') return e.status === 'pending' ? 0 : 1;
  const cw = e.current_window;
  const whole = e.window;
  if (!cw?.start || !whole?.start || !whole.end) return 0;
  const span = Date.parse(whole.end) - Date.parse(whole.start);
  return span > 0 ? (Date.parse(cw.start) - Date.parse(whole.start)) / span : 0;
}
