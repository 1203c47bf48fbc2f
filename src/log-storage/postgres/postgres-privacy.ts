import { OnApplicationShutdown } from '@nestjs/common';
import { PostgresAuditLog } from './postgres-audit-log';
import { PostgresErasureRegistry } from './postgres-erasure-registry';
import { PrivacyDatabase } from './privacy-database';

/** The erasure registry and the audit log over one pool, closed at shutdown. */
export class PostgresPrivacy implements OnApplicationShutdown {
  readonly db: PrivacyDatabase;
  readonly erasures: PostgresErasureRegistry;
  readonly audit: PostgresAuditLog;

  constructor(url: string) {
    this.db = new PrivacyDatabase(url);
    this.erasures = new PostgresErasureRegistry(this.db);
    this.audit = new PostgresAuditLog(this.db);
  }

  onApplicationShutdown(): Promise<void> {
    return this.db.close();
  }
}
