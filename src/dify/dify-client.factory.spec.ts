import { HttpService } from '@nestjs/axios';
import axios from 'axios';
import * as os from 'node:os';
import { AppConfig, loadAppConfig } from '../config/app-config';
import { difyAxiosDefaults } from './dify-http';
import { DifyClientFactory, serviceRootFor, versionAtLeast } from './dify-client.factory';
import { DifyBadRequestError } from './dify.errors';

const factoryFor = (config: AppConfig) => new DifyClientFactory(config, new HttpService(axios.create(difyAxiosDefaults(config))));

describe(DifyClientFactory.name, () => {
  const sut = factoryFor(loadAppConfig({ LOGS_DIR: os.tmpdir() }));

  it('chooses the access mode from the source, console modes first', () => {
    expect(sut.create({ app_id: 'a', dify_api_url: 'https://api.dify.ai/v1', api_key: 'app-x' }).accessMode).toBe('service');
    expect(
      sut.create({
        app_id: 'a',
        dify_api_url: 'https://api.dify.ai/v1',
        api_key: 'app-x',
        console_api_url: 'https://dify.example.com/console/api',
        admin_api_key: 'k',
        workspace_id: 'w',
      }).accessMode,
    ).toBe('console-admin');
    expect(
      sut.create({ app_id: 'a', console_api_url: 'https://dify.example.com/console/api', email: 'a@b.c', password: 'p' })
        .accessMode,
    ).toBe('console-login');
  });

  it('refuses a source without a complete set of credentials', () => {
    expect(() => sut.create({ app_id: 'a', dify_api_url: 'https://api.dify.ai/v1' })).toThrow(DifyBadRequestError);
  });
});

describe(serviceRootFor.name, () => {
  it('finds the version endpoint next to the console API', () => {
    expect(serviceRootFor({ app_id: 'a', console_api_url: 'https://dify.example.com/console/api/' })).toEqual({
      baseUrl: 'https://dify.example.com/v1',
      field: 'console_api_url',
    });
    expect(serviceRootFor({ app_id: 'a', console_api_url: 'http://10.0.0.5:5001/prefix/console/api' })?.baseUrl).toBe(
      'http://10.0.0.5:5001/prefix/v1',
    );
    expect(serviceRootFor({ app_id: 'a', dify_api_url: 'https://api.dify.ai/v1', console_api_url: 'https://x/console/api' })?.baseUrl).toBe(
      'https://api.dify.ai/v1',
    );
  });
});

describe(versionAtLeast.name, () => {
  it.each([
    ['1.11.0', true],
    ['1.16.2', true],
    ['2.0.0', true],
    ['1.10.9', false],
    ['0.15.3', false],
    ['v1.11.1-fix', true],
    ['unknown', false],
  ])('%s >= 1.11 is %s', (version, expected) => {
    expect(versionAtLeast(version, [1, 11])).toBe(expected);
  });
});

describe('DifyClientFactory.passwordEncoding', () => {
  const sut = factoryFor(loadAppConfig({ LOGS_DIR: os.tmpdir(), DIFY_TIMEOUT_MS: '200', DIFY_MAX_RETRIES: '0' }));
  const login = { app_id: 'a', email: 'a@b.c', password: 'p' };

  it('honours an explicit choice', async () => {
    await expect(sut.passwordEncoding({ ...login, console_api_url: 'http://127.0.0.1:9/console/api', password_encoding: 'plain' })).resolves.toBe('plain');
    await expect(sut.passwordEncoding({ ...login, console_api_url: 'http://127.0.0.1:9/console/api', password_encoding: 'base64' })).resolves.toBe('base64');
  });

  it('sends Base64 to Dify Cloud without asking for a version', async () => {
    await expect(sut.passwordEncoding({ ...login, console_api_url: 'https://cloud.dify.ai/console/api' })).resolves.toBe('base64');
  });

  it('falls back to plain text when a self-hosted version cannot be read', async () => {
    await expect(sut.passwordEncoding({ ...login, console_api_url: 'http://127.0.0.1:9/console/api' })).resolves.toBe('plain');
  });
});
