import type Database from 'better-sqlite3';
import type { CatalogExtract, MessageStage } from '../catalog-entry';
import { MESSAGES_TABLE } from './catalog-schema';

/** The stage file a thread writes: one per thread, so that no two writers ever wait for each other. */
export function stageFileOf(stage: string, thread: number): string {
  return `${stage}-${thread}`;
}

/**
 * Writes the messages of the extracts into the thread's stage file (file ids from `stage.firstId`, in the
 * order of the sources) and returns the extracts without them, each with its id. The file is scratch
 * space of one rebuild, taken in and removed at its end and removed again by the next one, so it is written
 * without a journal or syncs.
 */
export function stageMessages(
  open: (file: string) => Database.Database,
  stage: MessageStage,
  thread: number,
  extracts: CatalogExtract[],
): CatalogExtract[] {
  const db = open(stageFileOf(stage.file, thread));
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'messages'").get()) db.exec(MESSAGES_TABLE);
    const insert = db.prepare(
      'INSERT INTO messages (file_id, day, org_key, app_id, message_id, created_at, tokens, latency, rating, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    return db.transaction(() =>
      extracts.map((extract, i) => {
        if (!extract.ok) return extract;
        const id = stage.firstId + i;
        const e = extract.entry;
        for (const m of extract.messages) {
          insert.run(id, e.day, e.org_key, e.app_id, m.message_id, m.created_at, m.tokens, m.latency, m.rating, m.error ? 1 : 0);
        }
        return { ok: true as const, entry: e, messages: [], id };
      }),
    )();
  } finally {
    db.close();
  }
}
