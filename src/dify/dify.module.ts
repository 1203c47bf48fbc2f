import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { DifyClientFactory } from './dify-client.factory';
import { difyAxiosDefaults } from './dify-http';

/**
 * The Dify HTTP client in its three access modes, over one HttpModule instance whose timeout comes from
 * DIFY_TIMEOUT_MS and which follows no redirect. AppConfig is provided globally by the config module.
 */
@Module({
  imports: [HttpModule.registerAsync({ inject: [AppConfig], useFactory: (config: AppConfig) => difyAxiosDefaults(config) })],
  providers: [DifyClientFactory],
  exports: [DifyClientFactory],
})
export class DifyModule {}
