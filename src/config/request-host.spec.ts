import { ConfigError, loadAppConfig } from './app-config';
import {
  allowedHostnames,
  hostnameOfHostHeader,
  hostSettingsWarning,
  isSameOrigin,
  parseTrustProxy,
} from '../common/request-host';

const TOKEN = 'a-sufficiently-long-token';
const settings = (over: Partial<{ host: string; publicUrl: string | null; allowedHostnames: string[] }> = {}) => ({
  host: '127.0.0.1',
  publicUrl: null,
  allowedHostnames: [],
  ...over,
});

describe('request host rules', () => {
  describe(hostnameOfHostHeader.name, () => {
    it.each([
      ['127.0.0.1:3000', '127.0.0.1'],
      ['LOCALHOST', 'localhost'],
      ['localhost.:8080', 'localhost'],
      ['[::1]:3000', '::1'],
      ['[::1]', '::1'],
      ['vault.example.com', 'vault.example.com'],
      ['attacker.example:3000', 'attacker.example'],
    ])('%s -> %s', (header, expected) => {
      expect(hostnameOfHostHeader(header)).toBe(expected);
    });

    it.each([undefined, '', 'a b', 'user@127.0.0.1', '127.0.0.1/x', '::1', 'host:port', '[::1', 'a%2eb'])('%j is malformed', (header) => {
      expect(hostnameOfHostHeader(header)).toBeNull();
    });
  });

  describe(allowedHostnames.name, () => {
    it('allows the loopback names and the listening address', () => {
      expect([...allowedHostnames(settings())].sort()).toEqual(['127.0.0.1', '::1', 'localhost']);
      expect(allowedHostnames(settings({ host: '10.0.0.5' })).has('10.0.0.5')).toBe(true);
      expect(allowedHostnames(settings({ host: 'vault.lan' })).has('vault.lan')).toBe(true);
    });

    it('allows every interface address when listening on all of them, and the named hosts', () => {
      const interfaces = {
        eth0: [{ address: '10.1.2.3', family: 'IPv4' }, { address: 'fe80::1%eth0', family: 'IPv6' }],
      } as unknown as NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>;
      const sut = allowedHostnames(settings({ host: '0.0.0.0', publicUrl: 'https://Vault.Example.com/', allowedHostnames: ['alt.example'] }), interfaces);
      expect([...sut].sort()).toEqual(['10.1.2.3', '127.0.0.1', '::1', 'alt.example', 'fe80::1', 'localhost', 'vault.example.com']);
      expect(sut.has('0.0.0.0')).toBe(false);
    });
  });

  describe(isSameOrigin.name, () => {
    it('accepts the request\'s own origin, PUBLIC_URL\'s and ALLOWED_HOSTNAMES', () => {
      expect(isSameOrigin('http://127.0.0.1:3000', '127.0.0.1:3000', settings())).toBe(true);
      expect(isSameOrigin('https://vault.example.com', '127.0.0.1:3000', settings({ publicUrl: 'https://vault.example.com/' }))).toBe(true);
      expect(isSameOrigin('https://alt.example:8443', '127.0.0.1:3000', settings({ allowedHostnames: ['alt.example'] }))).toBe(true);
    });

    it.each([
      ['https://attacker.example', '127.0.0.1:3000'],
      ['http://127.0.0.1:8080', '127.0.0.1:3000'],
      ['http://localhost:3000', '127.0.0.1:3000'],
      ['null', '127.0.0.1:3000'],
      ['file://', '127.0.0.1:3000'],
      ['http://127.0.0.1:3000', undefined],
    ])('refuses %s for Host %s', (origin, host) => {
      expect(isSameOrigin(origin, host, settings())).toBe(false);
    });
  });

  it('warns when listening beyond loopback without a public name, and names the fix', () => {
    expect(hostSettingsWarning(settings(), new Set())).toBeNull();
    const warning = hostSettingsWarning(settings({ host: '0.0.0.0' }), new Set(['localhost', '10.1.2.3']));
    expect(warning).toContain('10.1.2.3');
    expect(warning).toContain('ALLOWED_HOSTNAMES or PUBLIC_URL');
    expect(hostSettingsWarning(settings({ host: '0.0.0.0', allowedHostnames: ['vault.lan'] }), new Set())).toBeNull();
  });

  it.each([
    ['false', false],
    ['0', false],
    ['true', 1],
    ['2', 2],
    ['loopback, 10.0.0.0/8', ['loopback', '10.0.0.0/8']],
  ])('TRUST_PROXY=%s is %j', (value, expected) => {
    expect(parseTrustProxy(value)).toEqual(expected);
  });

  describe('configuration', () => {
    it('reads the new variables and leaves them off by default', () => {
      expect(loadAppConfig({ LOGS_DIR: '/tmp' })).toMatchObject({ publicUrl: null, allowedHostnames: [], trustProxy: false });
      expect(
        loadAppConfig({ LOGS_DIR: '/tmp', PUBLIC_URL: 'https://vault.example.com', ALLOWED_HOSTNAMES: 'Vault.LAN, 10.0.0.5,[fd00::1]', TRUST_PROXY: 'true' }),
      ).toMatchObject({ publicUrl: 'https://vault.example.com', allowedHostnames: ['vault.lan', '10.0.0.5', 'fd00::1'], trustProxy: 1 });
    });

    it.each([
      [{ PUBLIC_URL: 'vault.example.com' }, 'PUBLIC_URL must be an absolute http(s) URL'],
      [{ PUBLIC_URL: 'ftp://vault.example.com' }, 'PUBLIC_URL must be an absolute http(s) URL'],
      [{ PUBLIC_URL: 'https://user:pw@vault.example.com' }, 'PUBLIC_URL must be an absolute http(s) URL'],
      [{ ALLOWED_HOSTNAMES: 'https://vault.example.com' }, 'ALLOWED_HOSTNAMES must be a comma-separated list'],
      [{ ALLOWED_HOSTNAMES: 'vault.example.com:443' }, 'ALLOWED_HOSTNAMES must be a comma-separated list'],
      [{ ALLOWED_HOSTNAMES: 'a,,b' }, 'ALLOWED_HOSTNAMES must be a comma-separated list'],
      [{ ALLOWED_HOSTNAMES: '*' }, 'ALLOWED_HOSTNAMES must be a comma-separated list'],
      [{ TRUST_PROXY: 'yes please' }, 'TRUST_PROXY must be false, true'],
      [{ TRUST_PROXY: '10.0.0.0/99' }, 'TRUST_PROXY must be false, true'],
    ])('refuses %j naming the variable', (env, message) => {
      expect(() => loadAppConfig({ LOGS_DIR: '/tmp', ADMIN_TOKEN: TOKEN, ...env })).toThrow(ConfigError);
      expect(() => loadAppConfig({ LOGS_DIR: '/tmp', ADMIN_TOKEN: TOKEN, ...env })).toThrow(message);
    });
  });
});
