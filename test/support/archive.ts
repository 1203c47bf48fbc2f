import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

export interface ArchiveFile {
  /** relative to LOGS_DIR, with / separators */
  path: string;
  text: string;
  json: Record<string, any>;
}

/** Every conversation file under LOGS_DIR/conversations (plain or gzipped), sorted by path. */
export function readArchive(logsDir: string): ArchiveFile[] {
  const root = path.join(logsDir, 'conversations');
  const out: ArchiveFile[] = [];
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.json(\.gz)?$/.test(entry.name)) {
        const raw = fs.readFileSync(full);
        const text = entry.name.endsWith('.gz') ? zlib.gunzipSync(raw).toString('utf8') : raw.toString('utf8');
        out.push({ path: path.relative(logsDir, full).split(path.sep).join('/'), text, json: JSON.parse(text) });
      }
    }
  };
  walk(root);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Every file under a directory, recursively (for "nothing was written" and "no secret anywhere" checks). */
export function listAllFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? (e as any).path, e.name));
}

/** Asserts that none of the secrets occurs in any file under `dir` nor in any of the given texts. */
export function findSecrets(secrets: string[], dir: string, texts: string[] = []): string[] {
  const found: string[] = [];
  const haystacks = [...listAllFiles(dir).map((f) => ({ where: f, text: readMaybeGz(f) })), ...texts.map((t, i) => ({ where: `text#${i}`, text: t }))];
  for (const secret of secrets) {
    const b64 = Buffer.from(secret).toString('base64');
    for (const h of haystacks) {
      if (h.text.includes(secret) || h.text.includes(b64)) found.push(`${secret.slice(0, 3)}… in ${h.where}`);
    }
  }
  return found;
}

function readMaybeGz(file: string): string {
  const raw = fs.readFileSync(file);
  if (file.endsWith('.gz')) {
    try {
      return zlib.gunzipSync(raw).toString('utf8');
    } catch {
      return raw.toString('latin1');
    }
  }
  return raw.toString('latin1');
}
