import { SimError, SimRequest, SimResponse } from './simulator.http';
import type { AppRecord, ConversationRecord, MessageRecord, SimulatorStore, WorkflowLogRecord } from './simulator.store';
import type { SimAppMode } from './simulator.types';

export interface SimContext {
  readonly store: SimulatorStore;
  readonly serverVersion: string;
  /** true when the simulated server is at least `major.minor` */
  versionAtLeast(major: number, minor: number): boolean;
  /** Unix seconds of the wall clock (not the generator's `now`) */
  nowSeconds(): number;
}

export interface Route {
  method: string;
  pattern: RegExp;
  handler: (req: SimRequest, ctx: SimContext) => SimResponse | Promise<SimResponse>;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export type ConversationSort = 'created_at' | '-created_at' | 'updated_at' | '-updated_at';
export const CONVERSATION_SORTS: readonly ConversationSort[] = ['created_at', '-created_at', 'updated_at', '-updated_at'];

/** Stable order on the sort field; rows of one second keep insertion order (reversed when descending). */
export function sortConversations(rows: ConversationRecord[], sortBy: ConversationSort): ConversationRecord[] {
  const desc = sortBy.startsWith('-');
  const field = (desc ? sortBy.slice(1) : sortBy) as 'created_at' | 'updated_at';
  return [...rows].sort((a, b) => (desc ? b[field] - a[field] || b.seq - a.seq : a[field] - b[field] || a.seq - b.seq));
}

export function sortField(sortBy: ConversationSort): 'created_at' | 'updated_at' {
  return (sortBy.startsWith('-') ? sortBy.slice(1) : sortBy) as 'created_at' | 'updated_at';
}

/** newest first; a second shared by several messages keeps the later-inserted one first */
export function messagesNewestFirst(messages: MessageRecord[]): MessageRecord[] {
  return [...messages].sort((a, b) => b.created_at - a.created_at || b.seq - a.seq);
}

export function workflowLogsNewestFirst(rows: WorkflowLogRecord[]): WorkflowLogRecord[] {
  return [...rows].sort((a, b) => b.created_at - a.created_at || b.id.localeCompare(a.id));
}

export function pageOf<T>(rows: T[], page: number, limit: number): { page: number; limit: number; total: number; has_more: boolean; data: T[] } {
  const start = (page - 1) * limit;
  return { page, limit, total: rows.length, has_more: start + limit < rows.length, data: rows.slice(start, start + limit) };
}

/** the console's app lookup (`get_app_model`): unknown, deleted or of another mode -> 404 */
export function appFor(req: SimRequest, ctx: SimContext, modes?: SimAppMode[]): AppRecord {
  const app = ctx.store.app(req.params[0].toLowerCase());
  if (!app) throw new SimError(404, 'app_not_found', 'App not found.');
  if (modes && !modes.includes(app.mode)) {
    throw new SimError(404, 'app_not_found', `App mode is not in the supported list: {${modes.map((m) => `'${m}'`).join(', ')}}`);
  }
  return app;
}
