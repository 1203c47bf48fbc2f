import { MigratedPool } from './migrated-pool';

/**
 * A small pool on DATABASE_URL for the erasures and the audit log, with the schema brought up to date
 * (under the migration lock, so replicas starting at once take turns) before the first query.
 */
export class PrivacyDatabase extends MigratedPool {
  constructor(url: string) {
    super(url, { context: PrivacyDatabase.name, max: 3, applicationName: 'dify-log-vault-privacy' });
  }
}
