import { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { PostgresBackupLock, REPLICATION_LOCK_CLASS } from './postgres-backup-lock';
import { PostgresCheckpointRepository } from './postgres-checkpoint.repository';
import { PostgresJobEvents } from './postgres-job-events';
import { PostgresJobHistoryRepository } from './postgres-job-history.repository';
import { PostgresReplicas } from './postgres-replicas';
import { StateDatabase } from './state-database';

/**
 * Everything kept in PostgreSQL besides the catalog, over one pool: job history, checkpoints, the backup
 * lock and the off-site copy's, the replicas and their leader, job events. Started and stopped as one, so the pool closes after the locks
 * and the leadership are given back.
 */
export class PostgresState implements OnModuleInit, OnApplicationShutdown {
  readonly db: StateDatabase;
  readonly replicas: PostgresReplicas;
  readonly lock: PostgresBackupLock;
  readonly replicationLock: PostgresBackupLock;
  readonly jobs: PostgresJobHistoryRepository;
  readonly checkpoints: PostgresCheckpointRepository;
  readonly events: PostgresJobEvents;

  constructor(url: string, replicaTimeoutSeconds: number) {
    this.db = new StateDatabase(url, replicaTimeoutSeconds);
    this.replicas = new PostgresReplicas(this.db, replicaTimeoutSeconds);
    this.lock = new PostgresBackupLock(this.db, this.replicas);
    this.replicationLock = new PostgresBackupLock(this.db, this.replicas, REPLICATION_LOCK_CLASS, 'the off-site copy of this archive');
    this.jobs = new PostgresJobHistoryRepository(this.db);
    this.checkpoints = new PostgresCheckpointRepository(this.db);
    this.events = new PostgresJobEvents(this.db);
  }

  onModuleInit(): Promise<void> {
    return this.replicas.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.events.stop();
    await this.lock.stop();
    await this.replicationLock.stop();
    await this.replicas.stop();
    await this.db.close();
  }
}
