import { isActiveIn, unixSeconds } from './crawl-filter';
import { DifyNotFoundError } from './dify.errors';
import type { ConversationRef, CrawlWindow } from './dify.types';
import { crawlPages, OffsetPage } from './paging';
import type { WarningLog } from './warnings';

/**
 * Workflow apps have runs, not conversations. Each run (a row of the workflow app log) is archived as one
 * conversation whose id is the run id, with one message: the run's inputs as `query`, its outputs as
 * `answer`, `provider_response_latency` = elapsed time, every other run field kept.
 */

type Row = Record<string, unknown>;

/** Runs may still be going when a window starts: list this far before it, then filter exactly. */
export const WORKFLOW_RUN_LOOKBACK_SECONDS = 24 * 3600;

const isObject = (v: unknown): v is Row => !!v && typeof v === 'object' && !Array.isArray(v);

export function runOf(row: Row): Row {
  return isObject(row.workflow_run) ? row.workflow_run : {};
}

export function workflowRef(row: Row): ConversationRef {
  const run = runOf(row);
  const created = unixSeconds(row.created_at ?? run.created_at);
  const finished = unixSeconds(run.finished_at);
  return {
    id: String(run.id ?? row.id),
    created_at: created,
    updated_at: Number.isFinite(finished) ? Math.max(finished, created) : created,
    raw: row,
  };
}

function asText(value: unknown, preferred: string[]): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (isObject(value)) {
    const keys = Object.keys(value);
    for (const k of preferred) if (typeof value[k] === 'string') return value[k] as string;
    if (keys.length === 1 && typeof value[keys[0]] === 'string') return value[keys[0]] as string;
  }
  return JSON.stringify(value);
}

/** The one message of a run, from the log row and (when fetched) the run's detail with inputs/outputs. */
export function workflowMessage(row: Row, detail: Row | null): Row {
  const run = { ...runOf(row), ...(detail ?? {}) };
  const endUser = isObject(row.created_by_end_user) ? row.created_by_end_user : {};
  const inputs = parseMaybeJson(run.inputs);
  const outputs = parseMaybeJson(run.outputs);
  const id = String(run.id ?? row.id);
  const message: Row = {
    ...run,
    id,
    conversation_id: id,
    workflow_run_id: id,
    query: asText(inputs, ['query', 'sys.query', 'input', 'question']),
    answer: asText(outputs, ['answer', 'text', 'result', 'output']),
    created_at: run.created_at ?? row.created_at,
    message_tokens: null,
    answer_tokens: null,
    provider_response_latency: typeof run.elapsed_time === 'number' ? run.elapsed_time : null,
    from_end_user_id: endUser.id ?? null,
  };
  if (inputs !== undefined) message.inputs = inputs;
  if (outputs !== undefined) message.outputs = outputs;
  return message;
}

function parseMaybeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Dify's `created_from` on a run as the `from_source` value conversations carry. */
export function workflowSource(row: Row): string | null {
  const from = row.created_from;
  if (from === 'service-api' || from === 'web-app') return 'api';
  if (from === 'installed-app' || from === 'debugging') return 'console';
  return typeof from === 'string' ? from : null;
}

/** The runs active in the window, newest first, from a page-numbered log listing (either API's). */
export async function* workflowRunRefs(fetchPage: (page: number) => Promise<OffsetPage>, window: CrawlWindow): AsyncGenerator<ConversationRef> {
  // a run lists at its start: look back far enough to catch runs that started before the window and ended in it
  const floor = window.start ? Math.floor(window.start.getTime() / 1000) - WORKFLOW_RUN_LOOKBACK_SECONDS : undefined;
  const rows = crawlPages(fetchPage, { stop: (row) => floor !== undefined && unixSeconds(row.created_at) < floor });
  for await (const row of rows) {
    const ref = workflowRef(row);
    if (!isActiveIn(window, ref.created_at, ref.updated_at)) continue;
    if (window.from_source && workflowSource(row) !== window.from_source) continue;
    yield ref;
  }
}

/** Where one API serves a run in full. */
export interface RunDetailRoutes {
  /** the run with `inputs` and `outputs`; a DifyNotFoundError when Dify does not give it */
  detail(runId: string): Promise<Row>;
  /** `{data: [...]}` of the run's node executions; null when this API has no such route */
  nodeExecutions: ((runId: string) => Promise<Row>) | null;
}

/** Node executions in execution order (Dify answers them unsorted). */
export function sortedNodeExecutions(body: Row): Row[] {
  const rows = Array.isArray(body.data) ? (body.data as Row[]) : [];
  const index = (row: Row) => (typeof row.index === 'number' ? row.index : Number.POSITIVE_INFINITY);
  return rows.map((row, i) => ({ row, i })).sort((a, b) => index(a.row) - index(b.row) || a.i - b.i).map(({ row }) => row);
}

/**
 * The one message of a run, in full: the log row, the run's detail (inputs and outputs; the Service API's
 * JSON-string `inputs` parsed) and, when asked, its node executions as `node_executions`. A run whose detail
 * Dify does not give still archives from its log row, and `warnings` says so.
 */
export async function fullWorkflowMessage(
  ref: ConversationRef,
  routes: RunDetailRoutes,
  opts: { includeNodeExecutions: boolean; warnings: WarningLog },
): Promise<Row> {
  let detail: Row | null = null;
  try {
    detail = await routes.detail(ref.id);
  } catch (error) {
    if (!(error instanceof DifyNotFoundError)) throw error;
    opts.warnings.add(`Workflow run ${ref.id}: Dify gave no run detail (404); archived from its log row, without inputs and outputs`);
  }
  const message = workflowMessage(ref.raw, detail);
  if (!opts.includeNodeExecutions || !detail) return message;
  if (!routes.nodeExecutions) {
    opts.warnings.add(
      'include_node_executions: the Service API has no node executions route; runs are archived without them (use a console access mode)',
      'no-node-executions-route',
    );
    return message;
  }
  try {
    message.node_executions = sortedNodeExecutions(await routes.nodeExecutions(ref.id));
  } catch (error) {
    if (!(error instanceof DifyNotFoundError)) throw error;
    opts.warnings.add(`Workflow run ${ref.id}: Dify gave no node executions (404); archived without them`);
  }
  return message;
}
