import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiAuthGuard } from './api-auth.guard';
import { AuthService } from './auth.service';

@Global()
@Module({
  providers: [AuthService, { provide: APP_GUARD, useClass: ApiAuthGuard }],
  exports: [AuthService],
})
export class AuthModule {}
