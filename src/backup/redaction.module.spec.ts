import { Test } from '@nestjs/testing';
import * as os from 'node:os';
import { loadAppConfig } from '../config/app-config';
import { AppConfigModule } from '../config/config.module';
import { RedactionModule } from './redaction.module';
import { Redactor } from '../common/redaction/redactor';

async function redactorFor(env: Record<string, string>): Promise<Redactor> {
  const moduleRef = await Test.createTestingModule({
    imports: [AppConfigModule.forRoot(loadAppConfig(env, os.tmpdir())), RedactionModule],
  }).compile();
  return moduleRef.get(Redactor);
}

describe(RedactionModule.name, () => {
  it('provides a Redactor built from REDACT and REDACT_PATTERNS', async () => {
    const sut = await redactorFor({ REDACT: 'email', REDACT_PATTERNS: '[{"name":"order","pattern":"ORD-\\\\d{6}"}]' });
    expect(sut.redactText('ORD-123456 from a@b.io, +49 30 1234567')).toEqual({
      text: '[order] from [email], +49 30 1234567',
      counts: { order: 1, email: 1 },
    });
  });

  it('provides a pass-through when neither variable is set', async () => {
    const sut = await redactorFor({});
    expect(sut.enabled).toBe(false);
    expect(sut.redactText('a@b.io').text).toBe('a@b.io');
  });
});
