import { redactText, redactValue, secretsOf } from './redact';

describe('redact', () => {
  it('drops query strings from URLs and masks known secrets', () => {
    expect(redactText('GET https://dify.example.com/v1/messages?user=u1&key=abc failed', [])).toBe(
      'GET https://dify.example.com/v1/messages failed',
    );
    expect(redactText('refused app-secret-123 for ops@example.com', secretsOf({ api_key: 'app-secret-123', email: 'ops@example.com' }))).toBe(
      'refused [redacted] for [redacted]',
    );
  });

  it('removes secret-looking fields at any depth', () => {
    expect(redactValue({ a: 1, api_key: 'k', nested: [{ password: 'p', note: 'see http://h/x?token=t' }] })).toEqual({
      a: 1,
      nested: [{ note: 'see http://h/x' }],
    });
  });
});
