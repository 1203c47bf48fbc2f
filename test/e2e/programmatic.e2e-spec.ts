import * as fs from 'node:fs';
import { createConversationLogService, StandaloneConversationLogs } from '../../src/standalone';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator } from '../../src/simulator/simulator.types';
import { readArchive } from '../support/archive';
import { makeTempDir } from '../support/test-app';

describe('ConversationLogService used from a script', () => {
  let sim: DifySimulator;
  let logs: StandaloneConversationLogs;
  let dir: string;

  beforeAll(async () => {
    sim = await startSimulator({ seed: 11 });
    dir = makeTempDir();
    logs = await createConversationLogService({ LOGS_DIR: dir, DIFY_ALLOWED_HOSTS: '127.0.0.1', DIFY_RETRY_BASE_MS: '5' });
  });
  afterAll(async () => {
    await logs?.close();
    await sim?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('offers the seed methods with the shapes of the endpoints', async () => {
    const chat = sim.apps.find((a) => a.mode === 'chat')!;
    const users = [...new Set(sim.conversations(chat.id).map((c) => c.user).filter((u): u is string => !!u))];
    const { service } = logs;
    // the seed's signature has no `users`: without them the Service API sees only what it can discover
    const saved = await service.saveConversationsWithMessages(sim.serviceApiUrl, chat.id, chat.apiKey, undefined, 'scripted');
    expect(saved).toMatchObject({ success: true, failed_count: 0, access_mode: 'service' });
    expect(saved.coverage.complete).toBe(false);
    expect(users.length).toBeGreaterThan(0);

    const files = readArchive(dir);
    expect(files).toHaveLength(saved.saved_count);
    const summary = await service.getLogsSummary('scripted');
    expect(summary).toMatchObject({ success: true, total_files: files.length });
    expect(summary.directories.every((d) => d.startsWith('conversations/scripted/'))).toBe(true);

    const days = files.map((f) => f.path.split('/').slice(2, 5).join('-')).sort();
    const exported = await service.exportLogsForDateRange(days[0], days[days.length - 1], 'scripted');
    expect(exported.count).toBe(files.length);
    expect(exported.conversations.map((c) => c.conversation_id).sort()).toEqual(files.map((f) => f.json.conversation_id).sort());

    const cleaned = await service.cleanOldLogs(3650, 'scripted');
    expect(cleaned).toMatchObject({ success: true, deleted_files: 0 });
  });
});
