import { HttpService } from '@nestjs/axios';
import axios from 'axios';
import { difyAxiosDefaults } from '../../src/dify/dify-http';
import { ConsoleLogger, Logger, LogLevel } from '@nestjs/common';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppConfig, loadAppConfig } from '../../src/config/app-config';
import { DifyClientFactory } from '../../src/dify/dify-client.factory';
import type { ConversationRef, CrawlWindow, DifyApp, DifyAppClient, DifySource } from '../../src/dify/dify.types';
import type { DifySimulator, SimulatedApp, SimulatedConversation } from '../../src/simulator/simulator.types';

export type Mode = 'service' | 'console-admin' | 'console-login';
export const MODES: Mode[] = ['service', 'console-admin', 'console-login'];

/** Config with tiny retry delays, as the tests need them. */
export function testConfig(extra: Record<string, string> = {}): { config: AppConfig; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dify-client-'));
  const config = loadAppConfig({ LOGS_DIR: dir, DIFY_RETRY_BASE_MS: '5', DIFY_TIMEOUT_MS: '2000', ...extra });
  return { config, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function sourceFor(mode: Mode, sim: DifySimulator, app: SimulatedApp, users?: string[]): DifySource {
  if (mode === 'service') {
    return { app_id: app.id, dify_api_url: sim.serviceApiUrl, api_key: app.apiKey, ...(users ? { users } : {}) };
  }
  if (mode === 'console-admin') {
    return { app_id: app.id, console_api_url: sim.consoleApiUrl, admin_api_key: sim.adminApiKey!, workspace_id: sim.workspaceId };
  }
  return { app_id: app.id, console_api_url: sim.consoleApiUrl, email: sim.account.email, password: sim.account.password };
}

/** Service-API users of an app: every `user` string with a Service-API conversation. */
export function serviceUsers(sim: DifySimulator, app: SimulatedApp): string[] {
  return [...new Set(sim.conversations(app.id).filter((c) => c.invoke_from === 'service-api' && c.user).map((c) => c.user!))];
}

/** What a mode can see of an app's conversations. */
export function visible(mode: Mode, sim: DifySimulator, app: SimulatedApp, users: string[]): SimulatedConversation[] {
  const all = sim.conversations(app.id);
  if (mode !== 'service') return all;
  return all.filter((c) => c.invoke_from === 'service-api' && c.user !== null && users.includes(c.user));
}

export function activeIn(c: { created_at: number; updated_at: number }, window: CrawlWindow): boolean {
  const inside = (s: number) =>
    (!window.start || s * 1000 >= window.start.getTime()) && (!window.end || s * 1000 <= window.end.getTime());
  return inside(c.created_at) || inside(c.updated_at);
}

export async function listAll(client: DifyAppClient, app: DifyApp, window: CrawlWindow = {}): Promise<ConversationRef[]> {
  const out: ConversationRef[] = [];
  for await (const ref of client.listConversations(app, window)) out.push(ref);
  return out;
}

/** The client factory outside Nest, over an axios instance made as DifyModule makes it. */
export function clientFactory(config: AppConfig): DifyClientFactory {
  return new DifyClientFactory(config, new HttpService(axios.create(difyAxiosDefaults(config))));
}

/** Collects every log line (all levels) while the tests run. */
export function recordLogs(): { lines: string[]; restore: () => void } {
  const lines: string[] = [];
  class Recorder extends ConsoleLogger {
    protected printMessages(messages: unknown[], context?: string, level?: LogLevel): void {
      for (const m of messages) lines.push(`${level} [${context}] ${typeof m === 'string' ? m : JSON.stringify(m)}`);
    }
  }
  Logger.overrideLogger(new Recorder());
  return { lines, restore: () => Logger.overrideLogger(new ConsoleLogger()) };
}

/** Every string in `texts` that contains a secret (or its Base64), for "no secret anywhere" checks. */
export function leaks(secrets: string[], texts: string[]): string[] {
  const found: string[] = [];
  for (const s of secrets) {
    const b64 = Buffer.from(s).toString('base64');
    for (const t of texts) if (t.includes(s) || t.includes(b64)) found.push(`${s.slice(0, 3)}… in ${t.slice(0, 80)}`);
  }
  return found;
}

export const ids = (rows: { id: string }[]) => rows.map((r) => r.id).sort();
