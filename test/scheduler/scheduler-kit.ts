import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import type { SchedulerRegistry } from '@nestjs/schedule';
import { createTestApp, TestApp } from '../support/test-app';

export type Loaded = { createTestApp: typeof createTestApp; SchedulerRegistry: typeof SchedulerRegistry };

/**
 * The service's modules imported afresh with `env` in process.env, as an entry point imports them once
 * `.env` is read: the `@Cron` decorators take their expressions and zone at import.
 */
export function importWithEnvironment(env: Record<string, string>): Loaded {
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    let loaded: Loaded | undefined;
    jest.isolateModules(() => {
      loaded = { createTestApp: require('../support/test-app').createTestApp, SchedulerRegistry: require('@nestjs/schedule').SchedulerRegistry };
    });
    return loaded!;
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

export const DAY = 86_400;

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function chatApp(sim: DifySimulator): SimulatedApp {
  return sim.apps.find((a) => a.mode === 'chat')!;
}

/** The app in console admin-key mode, as the single source from DIFY_* variables. */
export function consoleEnv(sim: DifySimulator, app: SimulatedApp, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DIFY_ALLOWED_HOSTS: '127.0.0.1',
    DIFY_CONSOLE_API_URL: sim.consoleApiUrl,
    DIFY_ADMIN_API_KEY: sim.adminApiKey!,
    DIFY_WORKSPACE_ID: sim.workspaceId,
    DIFY_APP_ID: app.id,
    DIFY_ORGANIZATION_ID: 'acme',
    DIFY_MAX_RETRIES: '0',
    BACKUP_OVERLAP_SECONDS: '60',
    ...extra,
  };
}

export function startApp(env: Record<string, string>): Promise<TestApp> {
  return createTestApp(env);
}

/** Seeds `<LOGS_DIR>/state/checkpoints.json` as an earlier run would have left it. */
export function writeCheckpoint(logsDir: string, appId: string, organizationId: string | null, checkpoint: string): void {
  const file = path.join(logsDir, 'state', 'checkpoints.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const state = {
    key: `${organizationId ?? ''}/${appId}`,
    app_id: appId,
    organization_id: organizationId,
    checkpoint,
    first_seen_at: checkpoint,
    last_run_at: checkpoint,
    last_run_job_id: null,
    last_outcome: 'succeeded',
    last_success_at: checkpoint,
    access_mode: 'console-admin',
    coverage: null,
    stale_alerted_at: null,
  };
  fs.writeFileSync(file, JSON.stringify({ version: 1, sources: [state] }));
}

export function readCheckpoint(logsDir: string, appId: string): string | null {
  const doc = JSON.parse(fs.readFileSync(path.join(logsDir, 'state', 'checkpoints.json'), 'utf8'));
  return doc.sources.find((s: { app_id: string }) => s.app_id === appId)?.checkpoint ?? null;
}

export async function listen(t: TestApp): Promise<string> {
  const server = t.server as http.Server;
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export interface SseEvent {
  id?: string;
  event?: string;
  data: any;
}

/** Reads a server-sent event stream with node:http until the server ends it. */
export function readSse(url: string): Promise<{ status: number; contentType: string; events: SseEvent[] }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { accept: 'text/event-stream' } }, (res) => {
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (buffer += chunk));
        res.on('end', () => {
          const events = buffer
            .split('\n\n')
            .filter((block) => block.trim())
            .map((block) => {
              const e: SseEvent = { data: null };
              const data: string[] = [];
              for (const line of block.split('\n')) {
                const i = line.indexOf(':');
                const field = line.slice(0, i);
                const value = line.slice(i + 1).replace(/^ /, '');
                if (field === 'id') e.id = value;
                else if (field === 'event') e.event = value;
                else if (field === 'data') data.push(value);
              }
              const text = data.join('\n');
              try {
                e.data = JSON.parse(text);
              } catch {
                e.data = text;
              }
              return e;
            });
          resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), events });
        });
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  text: string;
}

/** A webhook on 127.0.0.1 that records every POST and answers with the given statuses in turn (then 200). */
export async function startReceiver(statuses: number[] = []): Promise<{
  url: string;
  received: Received[];
  waitFor(predicate: (r: Received) => boolean): Promise<Received>;
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  const waiters: { predicate: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      const r: Received = { path: req.url ?? '', headers: req.headers, text, body: JSON.parse(text || 'null') };
      received.push(r);
      res.statusCode = statuses.shift() ?? 200;
      res.end('ok');
      for (const w of [...waiters]) {
        if (w.predicate(r)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(r);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/vault?token=hook-secret-token`,
    received,
    waitFor(predicate) {
      const found = received.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
