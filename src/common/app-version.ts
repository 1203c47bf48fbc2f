import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The service's version from package.json, read once. The file sits two levels above both
 * `src/common/` and `dist/common/`.
 */
export const APP_VERSION: string = readVersion(path.join(__dirname, '..', '..', 'package.json'));

function readVersion(file: string): string {
  try {
    const version: unknown = JSON.parse(fs.readFileSync(file, 'utf8')).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}
