import * as fs from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { AppConfig } from '../../src/config/app-config';
import { ARCHIVE_STORE } from '../../src/log-storage/archive-store';
import { FsArchiveStore } from '../../src/log-storage/fs/fs-archive-store';
import { AlertsService } from '../../src/backup/alerts.service';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { listAllFiles } from '../support/archive';
import { createTestApp, TestApp } from '../support/test-app';
import { chatApp, expectCompleteArchive, inspectArchive, seedConversations, sourceEnv } from './hardening-kit';

jest.setTimeout(60_000);

/** The real store, except that while `full` every write stops half way with ENOSPC, as a full disk does. */
class FullDiskArchiveStore extends FsArchiveStore {
  full = false;
  attempts = 0;

  protected override async writeBytes(handle: fs.promises.FileHandle, data: Buffer): Promise<void> {
    if (!this.full) return super.writeBytes(handle, data);
    this.attempts++;
    await handle.write(data.subarray(0, Math.floor(data.length / 2)));
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  }
}

function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of listAllFiles(path.join(dir, 'conversations'))) out.set(f, fs.readFileSync(f, 'utf8'));
  return out;
}

describe('Hardening: the disk fills up during a backup (ENOSPC through the archive store)', () => {
  let sim: DifySimulator;
  let app: SimulatedApp;
  let t: TestApp;
  let files: FullDiskArchiveStore;

  beforeAll(async () => {
    sim = await startSimulator({ generate: false });
    app = chatApp(sim);
    seedConversations(sim, app, 12);
    t = await createTestApp(sourceEnv(sim, app), (b) =>
      b.overrideProvider(ARCHIVE_STORE).useFactory({ factory: (c: AppConfig) => new FullDiskArchiveStore(c.logsDir), inject: [AppConfig] }),
    );
    files = t.app.get(ARCHIVE_STORE, { strict: false });
    expect(files).toBeInstanceOf(FullDiskArchiveStore);
  });
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  it('fails the run cleanly: temp files removed, archived files untouched, job failed, alert sent; the next run completes', async () => {
    const first = await request(t.server).post('/api/conversation-logs').send({ app_id: app.id });
    expect(first.body).toMatchObject({ success: true, saved_count: 12 });
    const before = snapshot(t.logsDir);

    // changes that would rewrite existing files, and new conversations
    for (const c of sim.conversations(app.id).slice(0, 4)) sim.addMessage(c.id);
    seedConversations(sim, app, 30);
    const notify = jest.spyOn(t.app.get(AlertsService), 'notify');
    files.full = true;

    const failed = await request(t.server).post('/api/conversation-logs').send({ app_id: app.id });
    expect(failed.status).toBe(200);
    expect(failed.body.success).toBe(false);
    expect(failed.body.saved_count).toBe(0);
    expect(failed.body.errors).toContainEqual({ conversation_id: '*', error: expect.stringContaining('the archive cannot be written (ENOSPC)') });
    for (const e of failed.body.errors) expect(e.error).toMatch(/ENOSPC/);
    // the run stops instead of fetching every remaining conversation only to fail writing it
    expect(files.attempts).toBeLessThanOrEqual(t.config.dify.concurrency);
    expect(failed.body.total_conversations).toBeLessThan(42);

    expect(inspectArchive(t.logsDir).temps).toEqual([]);
    expect(snapshot(t.logsDir)).toEqual(before);
    // stopped once, with one message: one alert, one run-level error naming the cause
    expect(notify).toHaveBeenCalledTimes(1);
    expect(notify).toHaveBeenCalledWith(expect.objectContaining({ event: 'backup_failed', text: expect.stringContaining('ENOSPC') }), expect.anything());
    expect(failed.body.errors.filter((e: { conversation_id: string }) => e.conversation_id === '*')).toHaveLength(1);
    expect(t.logLines.filter((l) => /the archive cannot be written/.test(l))).toEqual([expect.stringContaining('ENOSPC')]);
    const jobs = await request(t.server).get('/api/jobs');
    expect(jobs.body.jobs?.[0] ?? jobs.body[0]).toMatchObject({ status: 'failed' });
    const verify = await request(t.server).get('/api/conversation-logs/verify');
    expect(verify.body).toMatchObject({ missing: [], changed: [], unindexed: [], corrupt: [] });

    files.full = false;
    const next = await request(t.server).post('/api/conversation-logs').send({ app_id: app.id });
    expect(next.body).toMatchObject({ success: true, failed_count: 0, created_count: 30, updated_count: 4 });
    expectCompleteArchive(t.logsDir, sim, app);
  });
});
