import type { NestExpressApplication } from '@nestjs/platform-express';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { countOf, formatBytes, formatDateTime, formatNumber, formatRelative } from './format';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const hbs = require('hbs') as {
  registerPartial(name: string, text: string): void;
  registerHelper(name: string, fn: (...args: unknown[]) => unknown): void;
};

/** The folder that holds `views/` and `public/`, found from src/ (ts-jest) as well as from dist/. */
export function findProjectRoot(start = __dirname): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'views', 'layout.hbs')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`views/layout.hbs not found above ${start}`);
    dir = parent;
  }
}

function chartJsDir(root: string): string {
  // the package's exports map hides dist/, so it is located on disk
  return path.join(root, 'node_modules', 'chart.js', 'dist');
}

let helpersRegistered = false;

function registerHelpers(viewsDir: string): void {
  const partials = path.join(viewsDir, 'partials');
  for (const file of fs.readdirSync(partials)) {
    if (file.endsWith('.hbs')) hbs.registerPartial(path.basename(file, '.hbs'), fs.readFileSync(path.join(partials, file), 'utf8'));
  }
  if (helpersRegistered) return;
  helpersRegistered = true;
  // the last argument of every helper is Handlebars' options object
  const args = (all: unknown[]) => all.slice(0, -1);
  hbs.registerHelper('bytes', (...a) => formatBytes(Number(args(a)[0] ?? 0)));
  hbs.registerHelper('number', (...a) => formatNumber(Number(args(a)[0] ?? 0)));
  hbs.registerHelper('count', (...a) => countOf(Number(args(a)[0] ?? 0), String(args(a)[1])));
  hbs.registerHelper('datetime', (...a) => formatDateTime(args(a)[0] as string | null | undefined));
  hbs.registerHelper('relative', (...a) => formatRelative(args(a)[0] as string | null | undefined));
  hbs.registerHelper('eq', (...a) => args(a)[0] === args(a)[1]);
  hbs.registerHelper('or', (...a) => args(a).some(Boolean));
  hbs.registerHelper('not', (...a) => !args(a)[0]);
  hbs.registerHelper('gt', (...a) => Number(args(a)[0]) > Number(args(a)[1]));
}

/** hbs views, partials and helpers, the page's static files and Chart.js from the installed package. */
export function configureAdminViews(app: NestExpressApplication): void {
  const root = findProjectRoot();
  const viewsDir = path.join(root, 'views');
  registerHelpers(viewsDir);
  app.setBaseViewsDir(viewsDir);
  app.setViewEngine('hbs');
  const staticOptions = { maxAge: '1h', index: false, fallthrough: true } as const;
  app.useStaticAssets(path.join(root, 'public'), { ...staticOptions, prefix: '/assets/' });
  app.useStaticAssets(chartJsDir(root), { ...staticOptions, prefix: '/assets/chartjs/' });
}
