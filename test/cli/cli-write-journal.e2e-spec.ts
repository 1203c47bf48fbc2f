import { NestFactory } from '@nestjs/core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppModule } from '../../src/app.module';
import { isProcessAlive, PROCESS_ID } from '../../src/common/process-liveness';
import { loadAppConfig } from '../../src/config/app-config';
import { CATALOG, Catalog, JournaledWrite } from '../../src/log-storage/catalog';
import { conversation } from '../archive/archive-fixtures';
import { makeTempDir } from '../support/test-app';
import { builtCli, CliRun, runCli, seedArchive } from './cli-kit';

/** The archive's catalog opened in this process, for `use`, then closed (the CLI opens it in turn). */
async function withCatalog<T>(logsDir: string, use: (catalog: Catalog) => Promise<T>): Promise<T> {
  const config = loadAppConfig({ NODE_ENV: 'test', ENABLE_AUTO_LOGGING: 'false', LOGS_DIR: logsDir });
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: false });
  try {
    return await use(app.get<Catalog>(CATALOG));
  } finally {
    await app.close();
  }
}

describe('CLI and the write journal (node dist/cli.js)', () => {
  let cli: string;
  let logsDir: string;
  let cwd: string;
  const run = (...args: string[]): Promise<CliRun> => runCli(cli, args, { LOGS_DIR: logsDir }, cwd);

  beforeAll(async () => {
    cli = await builtCli();
  }, 300_000);
  beforeEach(() => {
    logsDir = makeTempDir();
    cwd = makeTempDir('vault-cli-cwd-');
  });
  afterEach(() => {
    fs.rmSync(logsDir, { recursive: true, force: true });
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it("leaves a killed writer's entry to the commands that write: verify keeps it, clean indexes its object", async () => {
    const v1 = conversation({ id: 'c0ffee00-0000-4000-8000-00000000b001', created_at: '2024-01-16T12:30:29.000Z' });
    await seedArchive(logsDir, [v1]);
    let pid = 4_000_000;
    while (isProcessAlive(pid)) pid++;
    const host = PROCESS_ID.slice(0, PROCESS_ID.lastIndexOf(':'));
    const key = 'conversations/acme/2024/01/16/conversation_c0ffee00-0000-4000-8000-00000000b001_2024-01-16T12-30-29-000Z.json';
    const entry: JournaledWrite = { path: key, org_key: 'acme', app_id: v1.app_id, writer: `${host}:${pid}`, since: 1000 };
    // the killed writer had stored v2 (two messages) and not yet its row
    const v2 = { ...v1, messages: [...v1.messages, { ...v1.messages[0], id: `${v1.messages[0].id}x` }], dialogue_count: 2 };
    fs.writeFileSync(path.join(logsDir, key), JSON.stringify(v2, null, 2));
    await withCatalog(logsDir, (catalog) => catalog.journalWrites([entry]));

    expect(await run('verify', '--json')).toMatchObject({ code: 1 });
    expect(await withCatalog(logsDir, (catalog) => catalog.journaledWrites())).toEqual([entry]);

    expect(await run('clean', '--days', '36500')).toMatchObject({ code: 0 });
    const after = await withCatalog(logsDir, async (catalog) => ({ journal: await catalog.journaledWrites(), row: await catalog.findByPath(key) }));
    expect(after).toMatchObject({ journal: [], row: { message_count: 2 } });
    expect(JSON.parse((await run('verify', '--json')).stdout)).toMatchObject({ missing: [], changed: [], unindexed: [] });
  });
});
