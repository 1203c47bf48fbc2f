import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadAppConfig } from '../../src/config/app-config';
import { FileErasureRegistry } from '../../src/log-storage/privacy/erasure-registry';
import { makeTempDir } from '../support/test-app';
import { describeErasureRegistryContract } from './erasure-registry.contract';

jest.setTimeout(60_000);

describeErasureRegistryContract(FileErasureRegistry.name, async () => {
  const logsDir = makeTempDir('erasure-contract-');
  const config = loadAppConfig({ NODE_ENV: 'test', LOGS_DIR: logsDir });
  const file = path.join(logsDir, 'state', 'erasures.json');
  return {
    registry: new FileErasureRegistry(config),
    another: async () => new FileErasureRegistry(config),
    stored: async () => fs.readFileSync(file, 'utf8'),
    dispose: async () => fs.rmSync(logsDir, { recursive: true, force: true }),
  };
});

describe(`${FileErasureRegistry.name} on disk`, () => {
  it('keeps its salt and records in LOGS_DIR/state/erasures.json, readable by the owner only', async () => {
    const logsDir = makeTempDir('erasure-file-');
    try {
      const sut = new FileErasureRegistry(loadAppConfig({ NODE_ENV: 'test', LOGS_DIR: logsDir }));
      await sut.remember('user-1', { organizationId: 'acme' });
      const file = path.join(logsDir, 'state', 'erasures.json');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
      expect(stored).toEqual({
        salt: expect.stringMatching(/^[0-9a-f]{64}$/),
        erasures: [{ hash: await sut.hashOf('user-1'), organization_id: 'acme', app_id: null, erased_at: expect.any(String) }],
      });
      expect(await sut.snapshot()).toEqual(stored);
      expect(fs.readdirSync(path.join(logsDir, 'state'))).toEqual(['erasures.json']);
    } finally {
      fs.rmSync(logsDir, { recursive: true, force: true });
    }
  });
});
