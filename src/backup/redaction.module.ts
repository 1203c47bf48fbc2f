import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { Redactor } from '../common/redaction/redactor';

/** Provides the Redactor built from `REDACT` and `REDACT_PATTERNS` (a pass-through when both are empty). */
@Module({
  providers: [{ provide: Redactor, inject: [AppConfig], useFactory: (config: AppConfig) => new Redactor(config.redaction) }],
  exports: [Redactor],
})
export class RedactionModule {}
