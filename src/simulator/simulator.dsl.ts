import { appFor, Route, SimContext } from './simulator.context';
import { invalidParam, ok, SimRequest } from './simulator.http';
import { UUID_SEGMENT } from './simulator.service-api';
import type { AppRecord } from './simulator.store';

/** `GET /console/api/apps/{id}/export`: the app's DSL, as YAML inside `{"data": ...}`. */

const DSL_VERSION = '0.5.0';
const MODEL = { provider: 'langgenius/openai/openai', name: 'gpt-4o-mini', mode: 'chat', completion_params: { temperature: 0.7 } };

type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

const PLAIN = /^[A-Za-z_][A-Za-z0-9_ ./@:-]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|~)$/i;

function scalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value !== 'string') return String(value);
  if (PLAIN.test(value) && !RESERVED.test(value) && !value.endsWith(' ') && !value.includes(': ') && !value.includes(' #')) return value;
  // a JSON string is a valid YAML double-quoted scalar
  return JSON.stringify(value);
}

function isScalar(value: Yaml): value is string | number | boolean | null {
  return value === null || typeof value !== 'object';
}

function inline(value: Yaml): string | undefined {
  if (isScalar(value)) return scalar(value);
  if (Array.isArray(value) && value.length === 0) return '[]';
  if (!Array.isArray(value) && Object.keys(value).length === 0) return '{}';
  return undefined;
}

/** a small YAML emitter: block mappings and sequences, keys sorted as Dify's `yaml.dump` sorts them */
export function toYaml(value: Yaml, indent = ''): string {
  const lines: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      const flat = inline(item);
      if (flat !== undefined) {
        lines.push(`${indent}- ${flat}`);
        continue;
      }
      const body = toYaml(item, `${indent}  `).split('\n');
      lines.push(`${indent}- ${body[0].slice(indent.length + 2)}`, ...body.slice(1));
    }
  } else if (!isScalar(value)) {
    for (const key of Object.keys(value).sort()) {
      const item = value[key];
      const flat = inline(item);
      if (flat !== undefined) lines.push(`${indent}${scalar(key)}: ${flat}`);
      else lines.push(`${indent}${scalar(key)}:`, toYaml(item, Array.isArray(item) ? indent : `${indent}  `));
    }
  } else {
    lines.push(`${indent}${scalar(value)}`);
  }
  return lines.join('\n');
}

function environmentVariables(app: AppRecord, includeSecret: boolean): Yaml[] {
  return [
    { id: `${app.id.slice(0, 24)}000000000001`, name: 'PROVIDER_API_KEY', value_type: 'secret', value: includeSecret ? app.secret : '', description: 'Key of the search provider' },
    { id: `${app.id.slice(0, 24)}000000000002`, name: 'REGION', value_type: 'string', value: 'eu-central', description: '' },
  ];
}

function graph(app: AppRecord): Yaml {
  const chatflow = app.mode === 'advanced-chat';
  const nodes: Yaml[] = [
    { id: '1736840000001', type: 'custom', data: { type: 'start', title: 'Start', variables: [] } },
    { id: '1736840000002', type: 'custom', data: { type: 'llm', title: chatflow ? 'LLM' : 'Extract fields', model: MODEL, prompt_template: [{ role: 'system', text: app.prompt }] } },
    { id: '1736840000009', type: 'custom', data: { type: chatflow ? 'answer' : 'end', title: chatflow ? 'Answer' : 'End' } },
  ];
  return {
    nodes,
    edges: [
      { id: 'e1', source: '1736840000001', target: '1736840000002' },
      { id: 'e2', source: '1736840000002', target: '1736840000009' },
    ],
  };
}

export function appDsl(app: AppRecord, includeSecret: boolean): string {
  const doc: { [key: string]: Yaml } = {
    app: {
      name: app.name,
      mode: app.mode,
      description: app.description,
      icon: app.icon,
      icon_background: app.icon_background,
      use_icon_as_answer_icon: false,
    },
    kind: 'app',
    version: DSL_VERSION,
    dependencies: [{ current_identifier: null, type: 'marketplace', value: { marketplace_plugin_unique_identifier: 'langgenius/openai:0.2.7' } }],
  };
  if (app.mode === 'workflow' || app.mode === 'advanced-chat' || app.mode === 'rag-pipeline' || app.mode === 'channel') {
    doc.workflow = { conversation_variables: [], environment_variables: environmentVariables(app, includeSecret), features: {}, graph: graph(app) };
  } else if (app.mode === 'agent') {
    doc.agent = {
      model: MODEL,
      instruction: app.prompt,
      tools: [{ provider_id: 'flight_search', tool_name: 'search_flights', enabled: true }],
      environment_variables: environmentVariables(app, includeSecret),
    };
  } else {
    doc.model_config = {
      model: MODEL,
      pre_prompt: app.prompt,
      opening_statement: 'Hi! Ask me anything about your account or our products.',
      user_input_form: [],
      agent_mode: app.mode === 'agent-chat' ? { enabled: true, strategy: 'function_call', tools: [] } : { enabled: false, tools: [] },
    };
  }
  return `${toYaml(doc)}\n`;
}

function exportApp(req: SimRequest, ctx: SimContext) {
  const app = appFor(req, ctx);
  const raw = (req.query.include_secret ?? 'false').toLowerCase();
  if (!['true', 'false', '1', '0'].includes(raw)) throw invalidParam(`include_secret: Invalid literal for boolean(): ${req.query.include_secret}`);
  const includeSecret = raw === 'true' || raw === '1';
  ctx.store.counters.dslExports += 1;
  if (includeSecret) ctx.store.counters.dslExportsWithSecret += 1;
  return ok({ data: appDsl(app, includeSecret) });
}

export const dslRoutes: Route[] = [{ method: 'GET', pattern: new RegExp(`^/console/api/apps/${UUID_SEGMENT}/export$`), handler: exportApp }];
