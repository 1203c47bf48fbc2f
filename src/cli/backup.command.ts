import type { INestApplicationContext } from '@nestjs/common';
import { SourceRegistry } from '../backup/source-registry';
import { CliCommand, CliOutput, ParsedOptions, stringOption, UsageError } from './cli-command';
import { BackupLock, BackupLockedError } from '../backup/backup-lock';
import { JobsService } from '../backup/jobs.service';
import type { IsoWindow, Job, JobEvent } from '../backup/jobs.types';
import { orgAppLabel } from '../common/org-app-label';

const BAR_WIDTH = 24;
/** Another server or CLI is backing up the same archive. */
export const LOCKED_EXIT_CODE = 3;

/**
 * `backup [--app ID] [--organization ID]`: the scheduled run (catch-up from checkpoints) once, now.
 * Exit code 0 only when every source was backed up completely; 3 when another server or CLI holds the
 * archive's backup lock.
 */
export const backupCommand: CliCommand = {
  usage: 'backup [--app ID] [--organization ID]',
  summary: 'catch every configured source (or one) up from its checkpoint; exit code 0 only on full success, 3 while another process backs up this archive',
  options: { app: { type: 'string' }, organization: { type: 'string' } },
  async run(app: INestApplicationContext, options: ParsedOptions, out: CliOutput): Promise<number> {
    const appId = stringOption(options, 'app');
    const organizationId = stringOption(options, 'organization');
    const registry = app.get(SourceRegistry);
    let sources = registry.list();
    if (appId !== undefined) sources = sources.filter((s) => s.app_id === appId);
    if (organizationId !== undefined) sources = sources.filter((s) => (s.organization_id ?? '') === organizationId);
    if (!sources.length) {
      if (appId !== undefined || organizationId !== undefined) {
        throw new UsageError(`no configured source matches${appId ? ` app_id ${appId}` : ''}${organizationId ? ` organization ${organizationId}` : ''}`);
      }
      out.error('no source is configured (DIFY_APPS_FILE or DIFY_* variables)');
      return 1;
    }

    const lock = app.get(BackupLock);
    const holder = await lock.otherHolder();
    if (holder) {
      out.error(`refused: ${new BackupLockedError(holder, lock.file).message}`);
      return LOCKED_EXIT_CODE;
    }
    const jobs = app.get(JobsService);
    const job = jobs.startBackup({ sources, trigger: 'cli' });
    out.line(`job ${job.id}: backing up ${sources.length} sources from their checkpoints`);
    const view = process.stdout.isTTY ? new ProgressBar() : new PlainProgress(out);
    const stop = () => void jobs.drain();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await new Promise<void>((resolve, reject) =>
        jobs.events(job.id).subscribe({ next: (e) => view.update(e), complete: resolve, error: reject }),
      );
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      view.clear();
    }
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
      return LOCKED_EXIT_CODE;
    }
    return final.status === 'succeeded' ? 0 : 1;
  },
};

function describeWindow(w: IsoWindow | null): string {
  return w ? `${w.start ?? 'beginning'} .. ${w.end ?? 'now'}` : '';
}

/** Plain lines for logs and pipes: one per slice started and one per source finished. */
class PlainProgress {
  private readonly lastWindow = new Map<string, string>();
  constructor(private readonly out: CliOutput) {}

  update(e: JobEvent): void {
    if (e.type === 'progress' && e.current_window) {
      const key = `${e.organization_id ?? ''}/${e.app_id}`;
      const w = describeWindow(e.current_window);
      if (this.lastWindow.get(key) === w) return;
      this.lastWindow.set(key, w);
      this.out.line(`${orgAppLabel(e)}: backing up ${w} (seen ${e.progress.seen}, saved ${e.progress.saved}, failed ${e.progress.failed})`);
    } else if (e.type === 'source') {
      const p = e.source.progress;
      this.out.line(`${orgAppLabel(e.source)}: ${e.source.status}: seen ${p.seen}, saved ${p.saved}, unchanged ${p.unchanged}, failed ${p.failed}`);
    }
  }

  clear(): void {}
}

/** One redrawn line on a terminal: how much of the window is covered, and the counts. */
class ProgressBar {
  private drawn = false;

  update(e: JobEvent): void {
    if (e.type !== 'progress') return;
    const done = this.fraction(e);
    const filled = Math.round(done * BAR_WIDTH);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(done * 100)).padStart(3)}%`;
    const text = `${bar} ${orgAppLabel(e)} seen ${e.progress.seen} saved ${e.progress.saved} unchanged ${e.progress.unchanged} failed ${e.progress.failed}`;
    const width = process.stdout.columns ?? 120;
    process.stdout.write(`\r${text.slice(0, width - 1).padEnd(Math.min(width - 1, text.length + 4))}`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) process.stdout.write('\r\x1b[2K');
  }

  private fraction(e: Extract<JobEvent, { type: 'progress' }>): number {
    if (e.status !== 'running') return e.status === 'pending' ? 0 : 1;
    const cw = e.current_window;
    const whole = e.window;
    if (!cw?.start || !whole?.start || !whole.end) return 0;
    const span = Date.parse(whole.end) - Date.parse(whole.start);
    return span > 0 ? Math.min(1, Math.max(0, (Date.parse(cw.start) - Date.parse(whole.start)) / span)) : 0;
  }
}
