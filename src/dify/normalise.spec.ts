import { toArchivedConversation, unixToIso } from './normalise';
import type { FetchedConversation } from './dify.types';

const loggedAt = new Date('2025-01-02T03:04:05.678Z');
const opts = { appId: 'app-1', organizationId: 'acme', loggedAt };

function chat(overrides: Partial<FetchedConversation> = {}): FetchedConversation {
  return {
    app: { id: 'app-1', name: 'Support bot', mode: 'chat' },
    accessMode: 'console-admin',
    conversation: {
      id: 'c1',
      status: 'normal',
      from_source: 'api',
      from_end_user_id: 'eu-1',
      from_end_user_session_id: 'user-42',
      name: 'Greeting',
      read_at: null,
      created_at: 1705407629,
      updated_at: 1705407700,
      user_feedback_stats: { like: 1, dislike: 0 },
      summary: 'hi',
    },
    messages: [
      {
        id: 'm2',
        conversation_id: 'c1',
        query: 'second',
        answer: 'b',
        created_at: 1705407690,
        message_tokens: 3,
        answer_tokens: 4,
        provider_response_latency: 1.25,
        total_price: '0.0012825',
        feedbacks: [{ rating: 'like', created_at: 1705407695 }],
        from_source: 'api',
        from_end_user_id: 'eu-1',
      },
      { id: 'm1', conversation_id: 'c1', query: 'first', answer: 'a', created_at: 1705407629, zeta: 1, alpha: 2 },
    ],
    ...overrides,
  };
}

describe(toArchivedConversation.name, () => {
  const sut = toArchivedConversation;

  it('maps the seed fields, ISO timestamps and messages in chronological order', () => {
    const out = sut(chat(), opts);
    expect(out).toMatchObject({
      conversation_id: 'c1',
      app_id: 'app-1',
      organization_id: 'acme',
      name: 'Greeting',
      status: 'normal',
      from_source: 'api',
      from_end_user_id: 'eu-1',
      from_end_user_session_id: 'user-42',
      created_at: '2024-01-16T12:20:29.000Z',
      updated_at: '2024-01-16T12:21:40.000Z',
      dialogue_count: 2,
      app_mode: 'chat',
      app_name: 'Support bot',
      access_mode: 'console-admin',
      logged_at: '2025-01-02T03:04:05.678Z',
    });
    expect(out.messages.map((m) => m.id)).toEqual(['m1', 'm2']);
    expect(out.messages[0]).toMatchObject({
      query: 'first',
      created_at: '2024-01-16T12:20:29.000Z',
      message_tokens: null,
      answer_tokens: null,
      provider_response_latency: null,
      from_source: 'api',
      from_end_user_id: 'eu-1',
    });
  });

  it('keeps every other field Dify sent, rewriting nested Unix-second timestamps and keeping prices as strings', () => {
    const out = sut(chat(), opts);
    expect(out.user_feedback_stats).toEqual({ dislike: 0, like: 1 });
    expect(out.summary).toBe('hi');
    expect(out.read_at).toBeNull();
    expect(out).not.toHaveProperty('id');
    const m2 = out.messages[1];
    expect(m2.total_price).toBe('0.0012825');
    expect(m2.provider_response_latency).toBe(1.25);
    expect(m2.feedbacks).toEqual([{ created_at: '2024-01-16T12:21:35.000Z', rating: 'like' }]);
    expect(out.messages[0]).toMatchObject({ alpha: 2, zeta: 1 });
  });

  it('orders keys deterministically: the same input gives the same bytes apart from logged_at', () => {
    const a = JSON.stringify(sut(chat(), opts));
    const shuffled = chat();
    shuffled.conversation = Object.fromEntries(Object.entries(shuffled.conversation).reverse());
    shuffled.messages = shuffled.messages.map((m) => Object.fromEntries(Object.entries(m).reverse()));
    const b = JSON.stringify(sut(shuffled, { ...opts, loggedAt: new Date('2030-01-01T00:00:00Z') }));
    expect(b.replace(/"logged_at":"[^"]+"/, '')).toBe(a.replace(/"logged_at":"[^"]+"/, ''));
    expect(Object.keys(sut(chat(), opts)).slice(0, 6)).toEqual([
      'conversation_id',
      'app_id',
      'organization_id',
      'name',
      'status',
      'from_source',
    ]);
  });

  it('fills service-mode gaps: from_source api and the session id from the listing user', () => {
    const out = sut(
      {
        ...chat(),
        accessMode: 'service',
        conversation: { id: 'c9', name: 'x', status: 'normal', inputs: {}, introduction: '', created_at: 10, updated_at: 20 },
        messages: [{ id: 'm', conversation_id: 'c9', query: 'q', answer: 'a', created_at: 11, feedback: null }],
        user: 'user-7',
      },
      { ...opts, organizationId: null },
    );
    expect(out).toMatchObject({
      conversation_id: 'c9',
      organization_id: null,
      from_source: 'api',
      from_end_user_session_id: 'user-7',
      introduction: '',
      inputs: {},
    });
    expect(out.messages[0]).toMatchObject({ from_source: 'api', from_end_user_id: null, feedback: null });
  });

  it('archives a workflow run under its run id with the log row kept', () => {
    const out = sut(
      {
        app: { id: 'wf', name: 'Flow', mode: 'workflow' },
        accessMode: 'console-login',
        conversation: {
          id: 'log-1',
          workflow_run: { id: 'run-1', status: 'succeeded', created_at: 100, finished_at: 105, elapsed_time: 5.2 },
          created_from: 'web-app',
          created_by_end_user: { id: 'eu', session_id: 'sess' },
          created_at: 100,
        },
        messages: [{ id: 'run-1', conversation_id: 'run-1', query: '{}', answer: 'done', created_at: 100 }],
      },
      opts,
    );
    expect(out).toMatchObject({
      conversation_id: 'run-1',
      workflow_app_log_id: 'log-1',
      status: 'succeeded',
      from_source: 'api',
      from_end_user_id: 'eu',
      from_end_user_session_id: 'sess',
      created_at: new Date(100_000).toISOString(),
      updated_at: new Date(105_000).toISOString(),
      dialogue_count: 1,
    });
    expect((out.workflow_run as Record<string, unknown>).finished_at).toBe(new Date(105_000).toISOString());
  });

  it('leaves non-integer and out-of-range values alone', () => {
    expect(unixToIso(1.5)).toBe(1.5);
    expect(unixToIso('1705407629')).toBe('1705407629');
    expect(unixToIso(null)).toBeNull();
  });
});
