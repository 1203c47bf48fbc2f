import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

/**
 * The one-way flow of the design, checked on every `src/**\/*.ts` import (type-only ones too): a folder
 * imports only from folders below it, and no file reaches itself through its imports.
 */
const SRC = path.resolve(__dirname, '../../src');

/** Lower ranks sit below; folders of one rank never import each other. */
const LAYERS: Record<string, number> = {
  common: 0,
  // pure text rules over the archived format, read by the config at boot
  'common/redaction': 0.5,
  config: 1,
  // app-wide HTTP glue kept beside the shared bits: the auth guard reads the config, the error filters
  // map the Dify and archive errors
  'common/auth': 2,
  'common/filters': 3,
  dify: 2,
  'log-storage': 2,
  simulator: 2,
  backup: 3,
  scheduler: 4,
  'conversation-logs': 4,
  admin: 4,
  health: 4,
  // reads the readiness facts (version, source freshness) that health/ owns
  metrics: 4.5,
  // the entry points: app.module, main, configure-app, cli.ts with cli/, demo, standalone
  '.': 5,
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

function area(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  if (rel.length === 1 || rel[0] === 'cli') return '.';
  // a folder under common/ is ranked on its own only when it is listed (auth, filters); others are common
  if (rel[0] === 'common' && rel.length > 2 && `common/${rel[1]}` in LAYERS) return `common/${rel[1]}`;
  return rel[0];
}

function resolve(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(candidate)) return candidate;
  return null;
}

/** Every relative import and re-export of a file, resolved to files under src/. */
function importsOf(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, false);
  const specs: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specs.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0])) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) specs.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specs.map((s) => resolve(file, s)).filter((f): f is string => f !== null && f.startsWith(SRC));
}

const rel = (file: string) => path.relative(SRC, file);

/** The import cycles (each as a path of files), found by a depth-first search. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

describe('the import graph of src/', () => {
  const files = sourceFiles(SRC);
  const graph = new Map(files.map((f) => [f, importsOf(f)]));

  it('has every folder under src/ in a layer', () => {
    const unknown = [...new Set(files.map(area))].filter((a) => !(a in LAYERS));
    expect(unknown).toEqual([]);
  });

  it('only imports downwards: no folder imports from a folder above it or beside it', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        const [from, to] = [area(file), area(target)];
        if (from === to) continue;
        if (LAYERS[to] >= LAYERS[from]) wrong.push(`${rel(file)} -> ${rel(target)} (${from} must not import from ${to})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles = findCycles(graph).map((c) => c.map(rel).join(' -> '));
    expect(cycles).toEqual([]);
  });

  it('finds a cycle when there is one (the check itself works)', () => {
    const sut = findCycles;
    expect(sut(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c', 'a']]);
    expect(sut(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });
});
