import type { CheckpointRepository } from '../checkpoint.repository';
import type { SourceState } from '../jobs.types';
import { JsonRows } from './json-rows';
import type { StateDatabase } from './state-database';

/** "dlvchkp" in ASCII */
const CHECKPOINTS_LOCK_KEY = BigInt('0x646c7663686b70').toString();

/** Per-source checkpoints in PostgreSQL (table `checkpoints`, one row per source), shared by every replica. */
export class PostgresCheckpointRepository implements CheckpointRepository {
  private readonly rows: JsonRows<SourceState>;

  constructor(db: StateDatabase) {
    this.rows = new JsonRows<SourceState>(db, {
      table: 'checkpoints',
      keyColumn: 'key',
      docColumn: 'state',
      order: 'key',
      key: (state) => state.key,
      lockKey: CHECKPOINTS_LOCK_KEY,
    });
  }

  load(): Promise<SourceState[]> {
    return this.rows.load();
  }

  save(states: SourceState[]): Promise<void> {
    return this.rows.save(states);
  }

  update(change: (stored: SourceState[]) => SourceState[]): Promise<SourceState[]> {
    return this.rows.update((stored) => change(stored.filter((s) => s && typeof s.key === 'string')));
  }
}
