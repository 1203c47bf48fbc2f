import { CookieJar, parseSetCookie } from './cookie-jar';

describe(CookieJar.name, () => {
  let sut: CookieJar;
  beforeEach(() => (sut = new CookieJar()));

  it('stores plain cookies and sends them back', () => {
    sut.store([
      'access_token=aaa; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600',
      'refresh_token=rrr; Path=/; HttpOnly',
      'csrf_token=ccc; Path=/',
    ]);
    expect(sut.get('csrf_token')).toBe('ccc');
    expect(sut.header()).toBe('access_token=aaa; refresh_token=rrr; csrf_token=ccc');
  });

  it('finds __Host- and __Secure- prefixed cookies by their base name and keeps the prefix when sending', () => {
    sut.store(['__Host-access_token=aaa; Path=/; Secure; HttpOnly', '__Host-csrf_token=ccc; Path=/; Secure']);
    expect(sut.get('csrf_token')).toBe('ccc');
    expect(sut.has('access_token')).toBe(true);
    expect(sut.header()).toBe('__Host-access_token=aaa; __Host-csrf_token=ccc');
  });

  it('replaces refreshed values and drops expired cookies', () => {
    sut.store('access_token=old; Path=/');
    sut.store('access_token=new; Path=/');
    expect(sut.get('access_token')).toBe('new');
    sut.store('access_token=; Max-Age=0');
    expect(sut.has('access_token')).toBe(false);
    sut.store('csrf_token=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
    expect(sut.header()).toBeUndefined();
  });

  it('parses quoted values and values containing =', () => {
    expect(parseSetCookie('a="b=c"; Path=/')).toEqual({ name: 'a', value: 'b=c', expired: false });
    expect(parseSetCookie('garbage')).toBeNull();
  });
});
