import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ArchivedConversation, ArchivedMessage } from '../src/common/conversation-log';
import { conversationPath } from '../src/log-storage/archive-paths';
import { SeededRandom } from '../src/simulator/simulator.random';

/**
 * Writes an archive tree in the service's own layout, without going through the service: sizes and
 * variety are what a year of a few support apps looks like (a few KB per file, ~10 messages of varied
 * text, several organizations, apps, users, days and ratings). `vault`: the service's own file format;
 * `seed`: what the seed's own tool writes (no organization_id, the folder says it; none of the fields
 * the vault added: access_mode, logged_at, app_mode, app_name, introduction, inputs).
 */
export type ArchiveFormat = 'seed' | 'vault';
export const ARCHIVE_FORMATS: readonly ArchiveFormat[] = ['seed', 'vault'];
const VAULT_ONLY_FIELDS = ['organization_id', 'access_mode', 'logged_at', 'app_mode', 'app_name', 'introduction', 'inputs'] as const;

/** bump when the generated content changes, so cached trees are rebuilt */
export const GENERATOR_VERSION = 1;

/** the word the search scenario looks for; it occurs in about 1% of the conversations */
export const SEARCH_KEYWORD = 'thermoflask';
const KEYWORD_SHARE = 0.01;

/** generated days end here (fixed, so a seed always gives the same bytes) */
const LAST_DAY = Date.UTC(2025, 5, 30);
const DAYS = 180;

const ORGS: readonly { id: string; weight: number; apps: readonly [string, string][] }[] = [
  { id: 'acme', weight: 5, apps: [['Support Chatbot', 'chat'], ['Sales Assistant', 'advanced-chat'], ['Research Agent', 'agent-chat']] },
  { id: 'globex', weight: 3, apps: [['Helpdesk', 'chat'], ['Onboarding Guide', 'advanced-chat']] },
  { id: 'initech', weight: 2, apps: [['IT Support', 'agent-chat'], ['HR Questions', 'chat']] },
  { id: 'umbrella-eu', weight: 1, apps: [['Customer Care', 'chat']] },
];

const OPENERS = [
  'Hi, ', 'Hello, ', 'Quick question: ', '', '', '', 'Hey there, ', 'Good morning, ', 'Sorry to bother you, ', 'Thanks for the help earlier. ',
];
const QUESTIONS = [
  'how do I reset my password for the {product} account',
  'can I change the delivery address for order {order}',
  'why was my card declined when I tried to pay for the {product}',
  'what is the warranty on the {product}',
  'is the {product} available in {color}',
  'how long does shipping to {city} usually take',
  'can you summarise the refund policy for {product} purchases',
  'which plan includes single sign-on and audit logs',
  'my invoice {order} shows the wrong VAT number, can you fix it',
  'how do I export all invoices from last quarter',
  'the app keeps logging me out on my phone, what should I do',
  'is there an API rate limit for the {plan} plan',
  'can I upgrade from {plan} to Enterprise in the middle of the month',
  'where can I find the user manual for the {product}',
  'do you ship the {product} to {city}',
  'order {order} arrived damaged, how do I get a replacement',
  'what are your opening hours in {city} on weekends',
  'how do I add a second administrator to our workspace',
  'can I pause my {plan} subscription during the summer',
  'the {product} makes a clicking noise, is that normal',
];
const ANSWER_SENTENCES = [
  'Thanks for reaching out, I am happy to help with that.',
  'You can do this yourself under Settings, then Account, then Security.',
  'Open the Orders page, select order {order} and choose "Edit delivery address" while it has not shipped yet.',
  'Refunds for unused items are issued within 30 days and reach your card within five business days.',
  'The {product} comes with a two-year warranty that covers manufacturing defects but not accidental damage.',
  'Single sign-on and audit logs are part of the Business and Enterprise plans.',
  'Shipping to {city} usually takes three to five business days; express delivery arrives the next day.',
  'I have checked order {order}: it left our warehouse yesterday and the tracking link is in your confirmation e-mail.',
  'A declined card is most often caused by a billing address that does not match the one your bank has on file.',
  'The {plan} plan allows 60 API requests per minute per key; higher limits are available on request.',
  'You can upgrade at any time and we only charge the difference for the rest of the billing period.',
  'Please try signing out, clearing the app cache and signing in again; that fixes most session problems.',
  'The user manual for the {product} is available as a PDF on the product page under Downloads.',
  'A light clicking sound during the first few minutes is normal while the {product} warms up.',
  'If the noise continues, please send us a short video and we will arrange a free repair.',
  'I have forwarded your request to our billing team, who will correct the invoice within two business days.',
  'Our store in {city} is open from 10:00 to 16:00 on Saturdays and closed on Sundays.',
  'You can pause a subscription for up to three months from the Billing page.',
  'Administrators can invite colleagues from Workspace settings, then Members, then Invite.',
  'Is there anything else I can help you with today?',
  'Let me know if the problem persists and I will open a ticket for you.',
  'I am sorry for the inconvenience this has caused.',
  'For security reasons I cannot see your full card number, only the last four digits.',
  'The replacement will be shipped as soon as we receive the photos of the damaged parcel.',
];
const PRODUCTS = ['standing desk', 'noise-cancelling headphones', 'espresso machine', 'trail running shoes', 'smart thermostat', 'ceramic pour-over set', 'robot vacuum', 'e-bike battery', 'office chair', 'travel backpack'];
const COLORS = ['black', 'white', 'forest green', 'navy blue', 'sand', 'red'];
const CITIES = ['Berlin', 'Lyon', 'Madrid', 'Milan', 'Rotterdam', 'Vienna', 'Warsaw', 'Prague', 'Lisbon', 'Dublin', '上海', 'München'];
const PLANS = ['Starter', 'Team', 'Business', 'Pro'];
const CHINESE = [
  { query: '我的订单什么时候发货？', answer: '您的订单预计在 24 小时内发货，发货后会短信通知您。' },
  { query: '可以开具增值税发票吗？', answer: '可以，请在订单页面点击“申请发票”，填写抬头和税号即可。' },
];
const ERROR_TEXT = "[openai] Rate Limit Error, Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o-mini'}}";

export interface GeneratedArchive {
  conversations: number;
  files: number;
  bytes: number;
  keywordConversations: number;
  /** files per day folder day, YYYY-MM-DD */
  perDay: Record<string, number>;
  seed: number;
  format: ArchiveFormat;
}

function fill(template: string, rng: SeededRandom, product: string): string {
  return template
    .replace(/\{product\}/g, product)
    .replace(/\{order\}/g, () => `#${rng.int(100000, 999999)}`)
    .replace(/\{color\}/g, () => rng.pick(COLORS))
    .replace(/\{city\}/g, () => rng.pick(CITIES))
    .replace(/\{plan\}/g, () => rng.pick(PLANS));
}

/** 1 to 24 messages, most around 10 */
function messageCount(rng: SeededRandom): number {
  return Math.max(1, Math.min(24, Math.round((rng.next() + rng.next() + rng.next()) * 6.6)));
}

function dayOffset(rng: SeededRandom): number {
  for (;;) {
    const offset = rng.int(0, DAYS - 1);
    const weekday = new Date(LAST_DAY - offset * 86_400_000).getUTCDay();
    if (weekday !== 0 && weekday !== 6) return offset;
    if (rng.chance(0.35)) return offset;
  }
}

function conversationAt(rng: SeededRandom, index: number): ArchivedConversation {
  const total = ORGS.reduce((s, o) => s + o.weight, 0);
  let roll = rng.next() * total;
  const org = ORGS.find((o) => (roll -= o.weight) < 0) ?? ORGS[0];
  const appIndex = rng.int(0, org.apps.length - 1);
  const [appName, appMode] = org.apps[appIndex];
  const appId = `${org.id}-app-${appIndex + 1}`;
  const id = rng.uuid();
  const userNo = rng.int(1, 4000);
  const endUserId = `${org.id.slice(0, 2)}${String(userNo).padStart(6, '0')}-5e1f-4c2d-9a7b-0c3d4e5f6a7b`;
  const session = rng.chance(0.6) ? `crm-${userNo}` : `user-${(userNo * 2654435761) % 1_000_003}`;
  const hour = Math.min(23, Math.max(0, Math.round(7 + (rng.next() + rng.next() + rng.next()) * 4)));
  const start = LAST_DAY - dayOffset(rng) * 86_400_000 + hour * 3_600_000 + rng.int(0, 3599) * 1000 + rng.int(0, 999);
  const product = rng.pick(PRODUCTS);
  const withKeyword = rng.next() < KEYWORD_SHARE;
  const count = messageCount(rng);
  const chinese = rng.chance(0.05);
  const messages: ArchivedMessage[] = [];
  let t = start;
  let previous: string | null = null;
  for (let i = 0; i < count; i++) {
    const mid = rng.uuid();
    const failed = rng.chance(0.03);
    let query: string;
    let answer: string;
    if (chinese) {
      const c = rng.pick(CHINESE);
      query = c.query;
      answer = c.answer;
    } else {
      query = `${rng.pick(OPENERS)}${fill(rng.pick(QUESTIONS), rng, product)}?`;
      if (withKeyword && i === Math.min(1, count - 1)) query += ` It is about the ${SEARCH_KEYWORD} I ordered last week.`;
      const sentences = rng.int(1, 3);
      answer = Array.from({ length: sentences }, () => fill(rng.pick(ANSWER_SENTENCES), rng, product)).join(' ');
    }
    if (failed) answer = '';
    const rating = !failed && rng.chance(0.12) ? (rng.chance(0.7) ? 'like' : 'dislike') : null;
    const latency = Math.round(rng.float(0.4, 9.5) * 1e6) / 1e6;
    messages.push({
      id: mid,
      conversation_id: id,
      query,
      answer,
      created_at: new Date(t).toISOString(),
      message_tokens: rng.int(12, 900),
      answer_tokens: failed ? 0 : rng.int(8, 600),
      provider_response_latency: latency,
      from_source: 'api',
      from_end_user_id: endUserId,
      agent_thoughts: [],
      error: failed ? ERROR_TEXT : null,
      feedback: rating ? { rating } : null,
      inputs: { language: chinese ? 'zh' : 'en' },
      message_files: [],
      parent_message_id: previous,
      retriever_resources: !failed && rng.chance(0.3)
        ? [{ dataset_name: 'Help Center', document_name: 'faq.md', position: 1, score: Math.round(rng.float(0.5, 0.99) * 1000) / 1000, content: 'Excerpt from the help center that supports the answer.' }]
        : [],
      status: failed ? 'error' : 'normal',
    });
    previous = mid;
    t += rng.int(5, 240) * 1000;
  }
  const first = messages[0].query;
  return {
    conversation_id: id,
    app_id: appId,
    organization_id: org.id,
    name: first.length > 40 ? `${first.slice(0, 37)}...` : first,
    status: 'normal',
    from_source: 'api',
    from_end_user_id: endUserId,
    from_end_user_session_id: session,
    created_at: new Date(start).toISOString(),
    updated_at: messages[messages.length - 1].created_at,
    dialogue_count: messages.length,
    messages,
    app_mode: appMode as ArchivedConversation['app_mode'],
    app_name: appName,
    access_mode: 'service',
    logged_at: new Date(t + 3_600_000 + (index % 3600) * 1000).toISOString(),
    introduction: 'Hi! Ask me anything about your account or our products.',
    inputs: { language: chinese ? 'zh' : 'en' },
  };
}

/**
 * Writes `count` conversation files under `logsDir/conversations`, each with its creation time as mtime,
 * one at a time (memory does not grow with `count`); `onProgress` hears of every 100,000th.
 */
export function generateArchive(
  logsDir: string,
  count: number,
  seed: number,
  format: ArchiveFormat = 'vault',
  onProgress?: (written: number) => void,
): GeneratedArchive {
  const rng = new SeededRandom(seed);
  const made = new Set<string>();
  const result: GeneratedArchive = { conversations: count, files: 0, bytes: 0, keywordConversations: 0, perDay: {}, seed, format };
  for (let i = 0; i < count; i++) {
    const conv = conversationAt(rng, i);
    const relative = conversationPath(
      { conversation_id: conv.conversation_id, organization_id: conv.organization_id, created_at: conv.created_at },
      'UTC',
    );
    const file = path.join(logsDir, relative);
    const dir = path.dirname(file);
    if (!made.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    const stored: Record<string, unknown> = { ...conv };
    if (format === 'seed') for (const field of VAULT_ONLY_FIELDS) delete stored[field];
    const data = Buffer.from(JSON.stringify(stored, null, 2), 'utf8');
    fs.writeFileSync(file, data);
    const when = new Date(conv.created_at);
    fs.utimesSync(file, when, when);
    result.files++;
    result.bytes += data.length;
    const day = conv.created_at.slice(0, 10);
    result.perDay[day] = (result.perDay[day] ?? 0) + 1;
    if (conv.messages.some((m) => m.query.includes(SEARCH_KEYWORD))) result.keywordConversations++;
    if (onProgress && result.files % 100_000 === 0) onProgress(result.files);
  }
  return result;
}
