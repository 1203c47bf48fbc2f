import type { CatalogEntry } from '../../src/log-storage/catalog-entry';

/** A catalog entry for repository tests; `day` and `organization_id` in the overrides place it. */
export function catalogEntry(id: string, overrides: Partial<CatalogEntry> = {}): CatalogEntry {
  const day = overrides.day ?? '2024-01-16';
  const org = overrides.organization_id === undefined ? 'acme' : overrides.organization_id;
  const dir = `conversations/${org ? `${org}/` : ''}${day.replace(/-/g, '/')}`;
  return {
    path: `${dir}/conversation_${id}_${day}T12-00-00-000Z.json`,
    org_key: org ?? '',
    organization_id: org,
    app_id: 'bot',
    conversation_id: id,
    day,
    dir,
    name: `name ${id}`,
    size: 100,
    sha256: 'sha',
    md5: 'md5',
    content_hash: 'content',
    compressed: false,
    org_from_path: false,
    created_at: `${day}T12:00:00.000Z`,
    updated_at: `${day}T12:05:00.000Z`,
    message_count: 1,
    tokens: 10,
    avg_latency: 1,
    from_source: 'api',
    end_user_id: 'eu',
    end_user_session: 'sess',
    likes: 0,
    dislikes: 0,
    errors: 0,
    queries: 'hello',
    answers: 'world',
    ...overrides,
  };
}
