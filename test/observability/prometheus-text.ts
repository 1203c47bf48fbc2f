/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: it throws on anything a
 * Prometheus server would reject or that breaks the format's rules (bad names, escapes or values,
 * TYPE after samples, a family split in two, duplicate series, negative counters, histograms whose
 * buckets are not cumulative or whose +Inf bucket differs from _count).
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** the sample's own name, e.g. `x_bucket` for a histogram `x` */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string | null;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];
const SUFFIXES: Record<MetricType, string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

class ParseError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

/** As Prometheus reads values (Go's ParseFloat): NaN and Inf in any case, so prom-client's `Nan` is valid. */
function parseValue(text: string, line: number): number {
  if (/^nan$/i.test(text)) return NaN;
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new ParseError(line, `"${text}" is not a number`);
  return Number(text);
}

/** `{a="1",b="x\"y"}` starting at `start`; returns the labels and the index after `}`. */
function parseLabels(text: string, start: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (text[i] === '}') return { labels, end: i + 1 };
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new ParseError(line, 'label without "="');
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new ParseError(line, `bad label name "${name}"`);
    if (name in labels) throw new ParseError(line, `label "${name}" twice`);
    if (text[eq + 1] !== '"') throw new ParseError(line, `label "${name}" value is not quoted`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = text[j];
      if (c === undefined) throw new ParseError(line, `label "${name}" value is not closed`);
      if (c === '"') break;
      if (c === '\\') {
        const next = text[j + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new ParseError(line, `bad escape "\\${next}" in label "${name}"`);
        j += 2;
        continue;
      }
      value += c;
      j++;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new ParseError(line, `expected "," or "}" after label "${name}"`);
  }
}

function seriesKey(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (text.length && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map<string, MetricFamily>();
  const closed = new Set<string>();
  const seen = new Set<string>();
  let current: MetricFamily | null = null;

  const familyOf = (sampleName: string): MetricFamily | undefined => {
    for (const f of families.values()) {
      if (SUFFIXES[f.type].some((s) => `${f.name}${s}` === sampleName)) return f;
    }
    return undefined;
  };
  const open = (name: string, line: number): MetricFamily => {
    if (!METRIC_NAME.test(name)) throw new ParseError(line, `bad metric name "${name}"`);
    if (closed.has(name)) throw new ParseError(line, `metric family ${name} appears in two places`);
    if (current && current.name !== name) closed.add(current.name);
    let family = families.get(name);
    if (!family) {
      family = { name, type: 'untyped', help: null, samples: [] };
      families.set(name, family);
    }
    current = family;
    return family;
  };

  const lines = text.split('\n');
  lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(raw);
      if (!m) return; // a plain comment
      const [, keyword, name, rest = ''] = m;
      const family = open(name, line);
      if (keyword === 'HELP') {
        if (family.help !== null) throw new ParseError(line, `second HELP for ${name}`);
        family.help = rest.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
      } else {
        if (!TYPES.includes(rest as MetricType)) throw new ParseError(line, `unknown TYPE "${rest}" for ${name}`);
        if (family.samples.length) throw new ParseError(line, `TYPE for ${name} after its samples`);
        if (family.type !== 'untyped' || seen.has(`type:${name}`)) throw new ParseError(line, `second TYPE for ${name}`);
        seen.add(`type:${name}`);
        family.type = rest as MetricType;
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
    if (!nameMatch) throw new ParseError(line, `bad sample "${raw}"`);
    const name = nameMatch[0];
    let rest = raw.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      const parsed = parseLabels(raw, name.length, line);
      labels = parsed.labels;
      rest = raw.slice(parsed.end);
    }
    const parts = rest.trim().split(/\s+/);
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2) throw new ParseError(line, `bad sample "${raw}"`);
    const value = parseValue(parts[0], line);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new ParseError(line, `bad timestamp "${parts[1]}"`);

    const family = familyOf(name) ?? open(name, line);
    if (family !== current) {
      if (closed.has(family.name)) throw new ParseError(line, `metric family ${family.name} appears in two places`);
      open(family.name, line);
    }
    const key = seriesKey(name, labels);
    if (seen.has(key)) throw new ParseError(line, `duplicate series ${key}`);
    seen.add(key);
    if (family.type === 'counter' && !(value >= 0)) throw new ParseError(line, `counter ${name} is ${value}`);
    if (family.type === 'histogram' && name.endsWith('_bucket') && labels.le === undefined) {
      throw new ParseError(line, `bucket of ${family.name} without "le"`);
    }
    family.samples.push({ name, labels, value });
  });

  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function checkHistogram(family: MetricFamily): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = seriesKey('', rest);
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name.endsWith('_bucket')) entry.buckets.push([parseValue(le, 0), s.value]);
    else if (s.name.endsWith('_count')) entry.count = s.value;
    else entry.sum = s.value;
  }
  for (const [key, { buckets, count, sum }] of series) {
    const where = `${family.name}${key}`;
    if (count === undefined || sum === undefined) throw new Error(`${where} lacks _count or _sum`);
    const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
    if (sorted[sorted.length - 1]?.[0] !== Infinity) throw new Error(`${where} has no +Inf bucket`);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i][1] < sorted[i - 1][1]) throw new Error(`${where} buckets are not cumulative`);
    }
    if (sorted[sorted.length - 1][1] !== count) throw new Error(`${where} +Inf bucket differs from _count`);
  }
}

/** The value of the one sample with exactly these labels (undefined when there is none). */
export function sampleValue(
  families: Map<string, MetricFamily>,
  sampleName: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = seriesKey(sampleName, labels);
  for (const f of families.values()) {
    const found = f.samples.find((s) => seriesKey(s.name, s.labels) === wanted);
    if (found) return found.value;
  }
  return undefined;
}
