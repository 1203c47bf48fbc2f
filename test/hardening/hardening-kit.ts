import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { listAllFiles } from '../support/archive';

export const DAY = 86_400;

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function chatApp(sim: DifySimulator): SimulatedApp {
  return sim.apps.find((a) => a.mode === 'chat')!;
}

/** The app as the one configured source, in console admin-key or console login mode. */
export function sourceEnv(
  sim: DifySimulator,
  app: SimulatedApp,
  mode: 'console-admin' | 'console-login' = 'console-admin',
  extra: Record<string, string> = {},
): Record<string, string> {
  const auth: Record<string, string> =
    mode === 'console-admin'
      ? { DIFY_ADMIN_API_KEY: sim.adminApiKey!, DIFY_WORKSPACE_ID: sim.workspaceId }
      : { DIFY_EMAIL: sim.account.email, DIFY_PASSWORD: sim.account.password };
  return {
    DIFY_ALLOWED_HOSTS: '127.0.0.1',
    DIFY_CONSOLE_API_URL: sim.consoleApiUrl,
    DIFY_APP_ID: app.id,
    DIFY_ORGANIZATION_ID: 'acme',
    DIFY_MAX_RETRIES: '2',
    DIFY_RETRY_BASE_MS: '5',
    DIFY_TIMEOUT_MS: '400',
    ...auth,
    ...extra,
  };
}

export interface ArchiveCheck {
  /** conversation id -> number of files holding it */
  files: Map<string, number>;
  /** files that are not complete JSON */
  broken: string[];
  /** temp files anywhere under LOGS_DIR */
  temps: string[];
  /** conversation id -> message count in its file */
  messages: Map<string, number>;
}

/** Reads every file under LOGS_DIR/conversations without trusting any of them. */
export function inspectArchive(logsDir: string): ArchiveCheck {
  const check: ArchiveCheck = { files: new Map(), broken: [], temps: [], messages: new Map() };
  for (const file of listAllFiles(logsDir)) {
    const rel = path.relative(logsDir, file).split(path.sep).join('/');
    if (rel.endsWith('.tmp')) {
      check.temps.push(rel);
      continue;
    }
    if (!rel.startsWith('conversations/')) continue;
    let json: ConversationFile | undefined;
    try {
      json = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      json = undefined;
    }
    recordConversationFile(check, rel, json);
  }
  return check;
}

export type ConversationFile = { conversation_id?: string; messages?: unknown[] };

/** Counts one conversation file into `check`; `undefined` (unreadable or not complete JSON) lists it as broken. */
export function recordConversationFile(check: ArchiveCheck, key: string, json: ConversationFile | undefined): void {
  if (json === undefined) {
    check.broken.push(key);
    return;
  }
  const id = String(json.conversation_id);
  check.files.set(id, (check.files.get(id) ?? 0) + 1);
  check.messages.set(id, Array.isArray(json.messages) ? json.messages.length : -1);
}

/** Every conversation of the app archived exactly once, with all its messages, and nothing else wrong. */
export function expectCompleteArchive(logsDir: string, sim: DifySimulator, app: SimulatedApp): void {
  expectComplete(inspectArchive(logsDir), sim, app);
}

/** `check` holds every conversation of the app exactly once, with all its messages, and nothing else wrong. */
export function expectComplete(check: ArchiveCheck, sim: DifySimulator, app: SimulatedApp): void {
  expect(check.broken).toEqual([]);
  expect(check.temps).toEqual([]);
  const expected = sim.conversations(app.id).map((c) => c.id).sort();
  expect([...check.files.keys()].sort()).toEqual(expected);
  expect([...check.files.values()].every((n) => n === 1)).toBe(true);
  for (const id of expected) expect(check.messages.get(id)).toBe(sim.messages(id).length);
}

export function seedConversations(sim: DifySimulator, app: SimulatedApp, count: number, messages = 2): void {
  const now = nowSeconds();
  for (let i = 0; i < count; i++) {
    sim.addConversation({ app_id: app.id, created_at: now - 3 * 3600 + i * 7, messages });
  }
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
