import { createHmac } from 'node:crypto';
import { loadAppConfig } from '../../config/app-config';
import { AuthService } from './auth.service';

describe(AuthService.name, () => {
  const config = loadAppConfig({ LOGS_DIR: '/tmp', ADMIN_TOKEN: 'a-sufficiently-long-token' });

  it('accepts only the configured token', () => {
    const sut = new AuthService(config);
    expect(sut.verifyToken('a-sufficiently-long-token')).toBe(true);
    expect(sut.verifyToken('a-sufficiently-long-tokem')).toBe(false);
    expect(sut.verifyToken(undefined)).toBe(false);
  });

  it('signs sessions that expire and ties CSRF tokens to them', () => {
    const sut = new AuthService(config);
    const session = sut.createSession(0);
    expect(sut.verifySession(session, 1000)).toBe(true);
    expect(sut.verifySession(session, 13 * 3600 * 1000)).toBe(false);
    expect(sut.verifySession(`${session}x`, 1000)).toBe(false);
    expect(sut.verifyCsrf(session, sut.csrfFor(session))).toBe(true);
    expect(sut.verifyCsrf(session, sut.csrfFor(sut.createSession(0)))).toBe(false);
  });

  it('without ADMIN_TOKEN signs the page\'s CSRF token with a key of its own, so no other site can compute it', () => {
    const open = loadAppConfig({ LOGS_DIR: '/tmp' });
    const sut = new AuthService(open);
    const token = sut.csrfFor(undefined);
    expect(sut.verifyCsrf(undefined, token)).toBe(true);
    // what anyone could compute from a key written in the source
    for (const known of ['no-admin-token', '']) expect(sut.verifyCsrf(undefined, createHmac('sha256', known).update('csrf:anonymous').digest('base64url'))).toBe(false);
    // another process (another replica) has another key
    expect(new AuthService(open).verifyCsrf(undefined, token)).toBe(false);
  });

  it('rate-limits a client after ten failures within a minute, and forgets it after', () => {
    const sut = new AuthService(config);
    for (let i = 0; i < 10; i++) sut.recordFailure('1.2.3.4', i);
    expect(sut.isRateLimited('1.2.3.4', 100)).toBe(true);
    expect(sut.isRateLimited('5.6.7.8', 100)).toBe(false);
    expect(sut.isRateLimited('1.2.3.4', 61_000)).toBe(false);
  });

  it('answers refused for the first ten failures of a client, then throttled, each client on its own', () => {
    const sut = new AuthService(config);
    const answers = Array.from({ length: 12 }, (_, i) => sut.failedAttempt('1.2.3.4', i));
    expect(answers).toEqual([...Array(10).fill('refused'), 'throttled', 'throttled']);
    expect(sut.failedAttempt('5.6.7.8', 20)).toBe('refused');
    expect(sut.failedAttempt('1.2.3.4', 61_000)).toBe('refused');
  });

  it('keeps the failure records bounded however many addresses fail', () => {
    const sut = new AuthService(config);
    for (let i = 0; i < 25_000; i++) sut.recordFailure(`10.0.${i >> 8}.${i & 255}`, i < 12_000 ? 0 : 120_000);
    expect(sut.trackedClients()).toBeLessThanOrEqual(10_000);
    expect(sut.isRateLimited('10.0.0.1', 120_001)).toBe(false);
  });
});
