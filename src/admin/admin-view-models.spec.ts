import type { Job } from '../backup/jobs.types';
import { parseSourceValue, progressView, SERVICE_MODE_HINT, snippetParts, sourceValue, sourceView } from './admin-view-models';

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
});
