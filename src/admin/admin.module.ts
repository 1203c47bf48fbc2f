import { Module } from '@nestjs/common';
import { BackupModule } from '../backup/backup.module';
import type { PostgresState } from '../backup/postgres/postgres-state';
import { POSTGRES_STATE } from '../backup/postgres/postgres-state.token';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { AdminAuthController } from './admin-auth.controller';
import { AdminSessionGuard } from './admin-session';
import { AdminController } from './admin.controller';
import { AdminService } from './admin.service';
import { postgresVerifyRuns } from './postgres-verify-run.repository';
import { MemoryVerifyRunRepository, VERIFY_RUN_REPOSITORY, VerifyRunRepository } from './verify-run.repository';
import { VerifyRuns } from './verify-runs';

/** The server-rendered admin page (views/ and public/ are set up by configureAdminViews). */
@Module({
  imports: [LogStorageModule, BackupModule],
  controllers: [AdminAuthController, AdminController],
  providers: [
    AdminService,
    AdminSessionGuard,
    VerifyRuns,
    {
      provide: VERIFY_RUN_REPOSITORY,
      useFactory: (state: PostgresState | null): VerifyRunRepository => (state ? postgresVerifyRuns(state.db) : new MemoryVerifyRunRepository()),
      inject: [POSTGRES_STATE],
    },
  ],
})
export class AdminModule {}
