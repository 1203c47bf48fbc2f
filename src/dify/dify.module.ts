import { Module } from '@nestjs/common';
import { DifyClientFactory } from './dify-client.factory';

/**
 * The Dify HTTP client in its three access modes. AppConfig is provided globally by the config module.
 */
@Module({
  providers: [DifyClientFactory],
  exports: [DifyClientFactory],
})
export class DifyModule {}
