import type { ArchivedConversation } from '../conversation-log';
import { isStructuralKey, Redactor } from './redactor';

const all = new Redactor({ kinds: ['email', 'phone', 'card', 'iban', 'ip'], patterns: [] });
const redact = (text: string) => all.redactText(text).text;

describe(Redactor.name, () => {
  describe('emails', () => {
    it.each([
      ['write to jane.doe+news@example.co.uk today', 'write to [email] today'],
      ['<ops@mail.example.org>', '<[email]>'],
      ['Umlaut: jürgen.müller@bücher.de.', 'Umlaut: [email].'],
      ['日本語のメール: taro@example.jp です', '日本語のメール: [email] です'],
    ])('%j -> %j', (text, expected) => {
      expect(redact(text)).toBe(expected);
    });
    it('leaves handles and decorators alone', () => {
      expect(redact('@nestjs/common and @Injectable() by @jane')).toBe('@nestjs/common and @Injectable() by @jane');
    });
  });

  describe('cards', () => {
    it.each([
      ['card 4111 1111 1111 1111 exp 12/27', 'card [card] exp 12/27'],
      ['4111-1111-1111-1111', '[card]'],
      ['amex 378282246310005.', 'amex [card].'],
      ['mc 5555555555554444', 'mc [card]'],
    ])('redacts the valid number in %j', (text, expected) => {
      expect(redact(text)).toBe(expected);
    });
    it.each(['card 4111 1111 1111 1112', 'tracking 1234567812345678', 'id 1234 5678 9012 3456 7890 1234'])(
      'keeps %j, which fails the Luhn check or is too long',
      (text) => {
        expect(all.redactText(text).counts.card).toBe(0);
      },
    );
  });

  describe('IBANs', () => {
    it.each([
      ['pay to DE89 3704 0044 0532 0130 00 please', 'pay to [iban] please'],
      ['DE89370400440532013000', '[iban]'],
      ['GB82 WEST 1234 5698 7654 32 THANKS', '[iban] THANKS'],
      ['FR1420041010050500013M02606;', '[iban];'],
    ])('%j -> %j', (text, expected) => {
      expect(redact(text)).toBe(expected);
    });
    it.each(['DE88 3704 0044 0532 0130 00', 'GB82 WEST 1234 5698 7654 33'])('keeps %j, whose checksum fails', (text) => {
      expect(all.redactText(text).counts.iban).toBe(0);
    });
  });

  describe('IP addresses', () => {
    it.each([
      ['from 192.168.0.12.', 'from [ip].'],
      ['10.0.0.1:8080', '[ip]:8080'],
      ['v6 2001:db8::8a2e:370:7334 and ::1', 'v6 [ip] and [ip]'],
      ['mapped ::ffff:203.0.113.9', 'mapped [ip]'],
      ['fe80::1ff:fe23:4567:890a%eth0', '[ip]%eth0'],
    ])('%j -> %j', (text, expected) => {
      expect(redact(text)).toBe(expected);
    });
    it.each(['at 12:30:29', 'version 1.2.3', 'std::vector', '999.1.1.1', 'mac 00:1a:2b:3c:4d:5e', 'ratio 3:2'])('keeps %j', (text) => {
      expect(redact(text)).toBe(text);
    });
  });

  describe('phones', () => {
    it.each([
      ['call +49 30 1234567 now', 'call [phone] now'],
      ['+1 (555) 123-4567', '[phone]'],
      ['+441632960123', '[phone]'],
      ['Tel: 030 1234567', 'Tel: [phone]'],
      ['mobile (0171) 123 45 67', 'mobile [phone]'],
      ['0044 20 7946 0958', '[phone]'],
      ['(555) 123-4567 or 555.123.4567', '[phone] or [phone]'],
      ['电话：+86 138 0013 8000。', '电话：[phone]。'],
      // more than 15 digits in a row: trailing groups are dropped until the rest can be a phone
      ['+49 30 1234567 2024 1234', '[phone] 1234'],
    ])('%j -> %j', (text, expected) => {
      expect(redact(text)).toBe(expected);
    });
    it.each([
      'on 2024-01-16 at 12:30',
      'on 01.02.2024',
      'on 01/02/2024',
      'order 123456789',
      'order #20240116',
      'ORD-00012345',
      'total 1,234,567.89 EUR',
      'timestamp 2024-01-16T12:30:29.000Z',
      'short +49 1234',
      'ext 0123',
    ])('keeps %j', (text) => {
      expect(redact(text)).toBe(text);
    });
  });

  it('counts each replacement per kind, every enabled kind present', () => {
    const { counts } = all.redactText('a@b.io c@d.io +49 30 1234567 192.168.1.1');
    expect(counts).toEqual({ email: 2, iban: 0, card: 0, ip: 1, phone: 1 });
  });

  it('applies only the kinds it was given', () => {
    const emailOnly = new Redactor({ kinds: ['email'], patterns: [] });
    expect(emailOnly.redactText('a@b.io +49 30 1234567').text).toBe('[email] +49 30 1234567');
    expect(emailOnly.kinds).toEqual(['email']);
  });

  it('applies custom patterns first, under their own names', () => {
    const sut = new Redactor({ kinds: ['phone'], patterns: [{ name: 'order', pattern: 'ORD-\\d{6}', flags: 'i' }] });
    expect(sut.redactText('ord-123456 and ORD-654321, call 030 1234567')).toEqual({
      text: '[order] and [order], call [phone]',
      counts: { order: 2, phone: 1 },
    });
  });

  it('knows the structural keys it skips', () => {
    for (const key of ['id', 'conversation_id', 'workflow_app_log_id', 'created_at', 'status', 'app_mode', 'from_source', 'role', 'index_node_hash']) {
      expect(isStructuralKey(key)).toBe(true);
    }
    for (const key of ['query', 'answer', 'name', 'thought', 'observation', 'tool_input', 'text', 'content', 'error']) {
      expect(isStructuralKey(key)).toBe(false);
    }
  });

  describe('redactConversation', () => {
    const conversation = (): ArchivedConversation =>
      ({
        conversation_id: 'c-jane@example.com',
        app_id: 'support',
        organization_id: 'acme',
        name: 'Refund for jane@example.com',
        summary: 'Caller +49 30 1234567 wants a refund',
        status: 'normal',
        from_source: 'api',
        from_end_user_id: 'eu-1',
        from_end_user_session_id: 'user-42',
        created_at: '2024-01-16T12:30:29.000Z',
        updated_at: '2024-01-16T12:31:00.000Z',
        dialogue_count: 1,
        inputs: { email: 'jane@example.com', nested: { list: ['card 4111 1111 1111 1111', 3, null, true] }, customer_id: '+49 30 1234567' },
        messages: [
          {
            id: 'm-1',
            conversation_id: 'c-1',
            query: 'My IBAN is DE89 3704 0044 0532 0130 00',
            answer: 'Noted, we will call (555) 123-4567.',
            created_at: '2024-01-16T12:30:29.000Z',
            message_tokens: 12,
            answer_tokens: 8,
            provider_response_latency: 1.5,
            from_source: 'api',
            from_end_user_id: 'eu-1',
            inputs: { ip: '203.0.113.9' },
            message: [
              { role: 'system', text: 'You help customers.', files: [] },
              { role: 'user', text: 'My IBAN is DE89 3704 0044 0532 0130 00', files: [] },
            ],
            agent_thoughts: [
              {
                id: 't-1',
                message_id: 'm-1',
                position: 1,
                thought: 'Look up jane@example.com',
                tool: 'crm_lookup',
                tool_input: '{"crm_lookup":{"email":"jane@example.com"}}',
                observation: 'Customer at 198.51.100.7',
                created_at: '2024-01-16T12:30:29.000Z',
              },
            ],
            feedbacks: [{ rating: 'dislike', content: 'Call me on 030 1234567' }],
          },
        ],
        outputs: { status: 'Sent to jane@example.com', id: '4111111111111111' },
        workflow_run: { id: 'run-1', status: 'succeeded', error: 'Mail to jane@example.com bounced', elapsed_time: 1.2 },
        logged_at: '2024-01-16T13:00:00.000Z',
        app_mode: 'agent-chat',
        app_name: 'Support for jane@example.com',
        access_mode: 'console-admin',
      }) as ArchivedConversation;

    it('redacts every text leaf, keeps structure, and counts per kind', () => {
      const input = conversation();
      const before = JSON.stringify(input);
      const { conversation: out, counts } = all.redactConversation(input);

      expect(JSON.stringify(input)).toBe(before);
      expect(out).toEqual({
        ...input,
        name: 'Refund for [email]',
        summary: 'Caller [phone] wants a refund',
        inputs: { email: '[email]', nested: { list: ['card [card]', 3, null, true] }, customer_id: '[phone]' },
        messages: [
          {
            ...input.messages[0],
            query: 'My IBAN is [iban]',
            answer: 'Noted, we will call [phone].',
            inputs: { ip: '[ip]' },
            message: [
              { role: 'system', text: 'You help customers.', files: [] },
              { role: 'user', text: 'My IBAN is [iban]', files: [] },
            ],
            agent_thoughts: [
              {
                ...(input.messages[0].agent_thoughts as object[])[0],
                thought: 'Look up [email]',
                tool_input: '{"crm_lookup":{"email":"[email]"}}',
                observation: 'Customer at [ip]',
              },
            ],
            feedbacks: [{ rating: 'dislike', content: 'Call me on [phone]' }],
          },
        ],
        outputs: { status: 'Sent to [email]', id: '[card]' },
        workflow_run: { id: 'run-1', status: 'succeeded', error: 'Mail to [email] bounced', elapsed_time: 1.2 },
        app_name: 'Support for [email]',
      });
      expect(counts).toEqual({ email: 7, iban: 2, card: 2, ip: 2, phone: 4 });
      expect(JSON.stringify({ ...out, conversation_id: 'skipped: an id' })).not.toMatch(/jane@example|4111|DE89|1234567|203\.0\.113/);
      expect(out.conversation_id).toBe('c-jane@example.com');
    });

    it('returns the same object and no counts when nothing is configured', () => {
      const sut = new Redactor();
      const input = conversation();
      expect(sut.enabled).toBe(false);
      expect(sut.redactConversation(input)).toEqual({ conversation: input, counts: {} });
      expect(sut.redactConversation(input).conversation).toBe(input);
    });
  });
});
