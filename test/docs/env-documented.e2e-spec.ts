/** Every variable the service reads (the EnvironmentVariables class) is in .env.example and in the README. */
import { getMetadataStorage } from 'class-validator';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EnvironmentVariables } from '../../src/config/env.schema';

const ROOT = path.resolve(__dirname, '..', '..');

/** The class's keys: those with a default, and the optional ones (known only by their validation decorators). */
function environmentKeys(): string[] {
  const decorated = getMetadataStorage()
    .getTargetValidationMetadatas(EnvironmentVariables, '', true, false)
    .map((m) => m.propertyName);
  return [...new Set([...Object.keys(new EnvironmentVariables()), ...decorated])].sort();
}

describe('EnvironmentVariables', () => {
  const keys = environmentKeys();

  it('has the variables this test looks for (it would pass on an empty list)', () => {
    expect(keys).toEqual(expect.arrayContaining(['LOGS_DIR', 'REPLICATE_DELETE', 'S3_BUCKET_NAME', 'DATABASE_URL']));
    expect(keys.length).toBeGreaterThan(40);
  });

  it('names every variable in .env.example, set or commented out', () => {
    const example = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');
    const named = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map(([, name]) => name));
    expect(keys.filter((k) => !named.has(k))).toEqual([]);
  });

  it('names every variable in the README', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(keys.filter((k) => !new RegExp(`\\b${k}\\b`).test(readme))).toEqual([]);
  });
});
