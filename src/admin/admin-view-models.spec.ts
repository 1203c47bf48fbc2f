import type { Job } from '../backup/jobs.types';
import type { ArchivedConversation } from '../common/conversation-log';
import {
  conversationTitle,
  displayStatus,
  jobRowView,
  parseSourceValue,
  progressView,
  replicationPendingText,
  SERVICE_MODE_HINT,
  snippetParts,
  sourceValue,
  sourceView,
  verifyRunView,
} from './admin-view-models';
import { countOf } from './format';

function job(status: Job['status'], progress: { seen: number; saved: number; unchanged: number; failed: number }): Job {
  return {
    id: 'j1',
    kind: 'backup',
    trigger: 'manual',
    status,
    window: null,
    started_at: '2025-10-15T08:00:00.000Z',
    finished_at: null,
    message: 'Backing up 1 sources',
    sources: [{ app_id: 'bot', organization_id: 'acme', name: null, status: 'running', progress } as Job['sources'][number]],
  };
}

describe('admin view models', () => {
  it('marks search hits without letting the snippet carry markup', () => {
    expect(snippetParts('…the «refund» policy <b>')).toEqual([
      { text: '…the ', mark: false },
      { text: 'refund', mark: true },
      { text: ' policy <b>', mark: false },
    ]);
    expect(snippetParts('')).toEqual([]);
  });

  it('round-trips the overview source choice', () => {
    expect(parseSourceValue(sourceValue({ app_id: 'bot', organization_id: 'acme' }))).toEqual({ organization_id: 'acme', app_id: 'bot' });
    expect(parseSourceValue(sourceValue({ app_id: 'bot' }))).toEqual({ app_id: 'bot' });
    expect(parseSourceValue(undefined)).toEqual({});
  });

  it('shows a running job by what it has handled, and a finished one at 100 %', () => {
    const running = progressView(job('running', { seen: 10, saved: 4, unchanged: 1, failed: 0 }));
    expect(running).toMatchObject({ running: true, percent: 50, statusLabel: 'Running', counts: '10 seen · 4 saved · 1 unchanged · 0 failed' });
    expect(progressView(job('failed', { seen: 0, saved: 0, unchanged: 0, failed: 0 }))).toMatchObject({ running: false, percent: 100, statusLabel: 'Failed' });
  });

  it("warns about an app key's blind spots until a run reports the real coverage", () => {
    const source = { app_id: 'bot', dify_api_url: 'https://api.dify.ai/v1', api_key: 'app-x' };
    expect(sourceView(source, 'service', undefined, undefined, undefined, null).warnings).toEqual([SERVICE_MODE_HINT]);
    expect(sourceView(source, 'console-admin', undefined, undefined, undefined, null).warnings).toEqual([]);
    const view = sourceView(source, 'service', { coverage: { complete: false, warnings: ['only 2 users'] } } as never, undefined, undefined, '2025-10-16T02:00:00.000Z');
    expect(view).toMatchObject({ warnings: ['only 2 users'], outcomeLabel: 'Never run', nextRunAt: '2025-10-16T02:00:00.000Z', modeLabel: 'Service API (app key)' });
    expect(JSON.stringify(view)).not.toContain('app-x');
  });

  describe('runs refused because another run holds the lock', () => {
    const refused = (): Job => {
      const j = job('failed', { seen: 0, saved: 0, unchanged: 0, failed: 0 });
      j.sources = j.sources.map((s) => ({ ...s, status: 'failed', error: 'another backup is running', error_kind: 'BackupLockedError' }));
      return j;
    };

    it('are shown as a neutral Skipped, not Failed', () => {
      expect(displayStatus(refused())).toBe('skipped');
      expect(progressView(refused())).toMatchObject({ status: 'skipped', statusLabel: 'Skipped' });
      expect(jobRowView(refused())).toMatchObject({ status: 'skipped', statusLabel: 'Skipped' });
    });

    it('do not hide a real failure next to them', () => {
      const mixed = refused();
      mixed.sources.push({ ...mixed.sources[0], app_id: 'other', error_kind: 'DifyAuthError' });
      expect(displayStatus(mixed)).toBe('failed');
    });

    it('turn the source card grey without an error line', () => {
      const source = refused().sources[0];
      const view = sourceView({ app_id: 'bot', organization_id: 'acme' }, 'console-admin', { last_outcome: 'failed' } as never, source, undefined, null);
      expect(view).toMatchObject({ outcomeLabel: 'Skipped', outcomeClass: 'skipped', lastError: null });
    });
  });

  it('labels runs by who started them', () => {
    const started = (trigger: Job['trigger']) => jobRowView({ ...job('succeeded', { seen: 0, saved: 0, unchanged: 0, failed: 0 }), trigger }).trigger;
    expect([started('api'), started('api-scheduled'), started('manual'), started('scheduled'), started('cli')]).toEqual([
      'API',
      'API',
      'by hand',
      'schedule',
      'command line',
    ]);
  });

  it('titles a workflow run by its workflow', () => {
    const c = (fields: Partial<ArchivedConversation>) => ({ name: '', app_mode: 'chat', app_name: 'Bot', app_id: 'a1', ...fields }) as ArchivedConversation;
    expect(conversationTitle(c({ app_mode: 'workflow', app_name: 'Invoice extractor' }))).toBe('Invoice extractor run');
    expect(conversationTitle(c({ app_mode: 'workflow', app_name: null }))).toBe('a1 run');
    expect(conversationTitle(c({ name: 'Refund' }))).toBe('Refund');
    expect(conversationTitle(c({}))).toBe('Untitled conversation');
  });

  it('counts in the singular for one', () => {
    expect([countOf(0, 'message'), countOf(1, 'message'), countOf(1024, 'message')]).toEqual(['0 messages', '1 message', '1,024 messages']);
  });

  it('shows an archive check: its progress while it runs, then its counts, listing at most 50 paths of a kind', () => {
    const run = { id: 'v1', sha256: true, status: 'running' as const, started_at: '2025-10-15T08:00:00.000Z', finished_at: null, checked: 1234, result: null, error: null, replica: 'vault-1:7' };
    expect(verifyRunView(run)).toMatchObject({ running: true, checkedText: '1,234', method: 'every file downloaded and hashed (sha256)', result: null, replica: 'vault-1:7' });
    const missing = Array.from({ length: 52 }, (_, i) => `conversations/acme/2024/01/16/conversation_${i}.json`);
    const done = verifyRunView({
      ...run,
      sha256: false,
      status: 'succeeded',
      finished_at: '2025-10-15T08:01:00.000Z',
      checked: 2000,
      result: { success: true, method: 'etag', checked: 2000, by_etag: 2000, by_sha256: 0, sha256_fallback: 0, missing, changed: ['c'], unindexed: [], corrupt: [], app_configs: { checked: 2, missing: [], changed: ['a'] } },
    });
    expect(done.result).toMatchObject({ problems: 53, summary: '53 of 2,000 files differ from the catalog.', appConfigs: '2 checked, 0 missing, 1 changed', appConfigsOk: false });
    expect(done.result!.kinds.map((k) => [k.kind, k.count, k.shown.length, k.more])).toEqual([
      ['missing', 52, 50, 2],
      ['changed', 1, 1, 0],
      ['unindexed', 0, 0, 0],
      ['corrupt', 0, 0, 0],
    ]);
    const clean = { success: true as const, method: 'sha256' as const, checked: 3, by_etag: 0, by_sha256: 3, sha256_fallback: 0, missing: [], changed: [], unindexed: [], corrupt: [] };
    expect(verifyRunView({ ...run, status: 'succeeded', checked: 3, result: clean }).result).toMatchObject({ problems: 0, summary: 'All 3 files match the catalog.', appConfigs: null, appConfigsOk: true });
  });

  it('shows the files not copied yet as unknown while the catalog is rebuilt, never as none', () => {
    expect(replicationPendingText(null)).toBe('unknown until the catalog is rebuilt');
    expect(replicationPendingText(0)).toBe('0 conversation files');
    expect(replicationPendingText(1)).toBe('1 conversation file');
  });
});
