import { Module } from '@nestjs/common';
import { BackupModule } from '../backup/backup.module';
import { LogStorageModule } from '../log-storage/log-storage.module';
import { AdminAuthController } from './admin-auth.controller';
import { AdminSessionGuard } from './admin-session';
import { AdminController } from './admin.controller';
import { AdminService } from './admin.service';
import { VerifyRuns } from './verify-runs';

/** The server-rendered admin page (views/ and public/ are set up by configureAdminViews). */
@Module({
  imports: [LogStorageModule, BackupModule],
  controllers: [AdminAuthController, AdminController],
  providers: [AdminService, AdminSessionGuard, VerifyRuns],
})
export class AdminModule {}
