import type { DifyAccessMode, DifyAppMode } from '../common/conversation-log';
import type { DifySource } from '../config/dify-source';

/** A source is configuration: it is defined in config/ and used by the clients here. */
export type { DifySource };

export type { DifyAccessMode, DifyAppMode };


export interface DifyApp {
  id: string;
  name: string;
  mode: DifyAppMode;
}

/** A window of activity: a conversation is in it when it was created or updated inside it. */
export interface CrawlWindow {
  start?: Date;
  end?: Date;
  /** Dify's own `from_source` value on each conversation */
  from_source?: 'api' | 'console';
}

/** A conversation as listed by Dify, before its messages are fetched. */
export interface ConversationRef {
  id: string;
  /** Unix seconds */
  created_at: number;
  /** Unix seconds */
  updated_at: number;
  /** the raw row Dify returned, untouched */
  raw: Record<string, unknown>;
  /** service mode: the `user` string through which the conversation is visible */
  user?: string;
}

/** What the client can and cannot see, said honestly. */
export interface Coverage {
  /** true when every conversation of the app is visible in this mode */
  complete: boolean;
  warnings: string[];
}

/** One listed conversation with all its messages, in chronological order, as Dify returned them. */
export interface FetchedConversation {
  app: DifyApp;
  accessMode: DifyAccessMode;
  conversation: Record<string, unknown>;
  messages: Record<string, unknown>[];
  /** service mode: the `user` string the conversation was listed through (`ConversationRef.user`) */
  user?: string;
}

/**
 * One app reached through one access mode. Implementations page completely, dedupe by id,
 * retry transient faults, and never call endpoints with side effects.
 */
export interface DifyAppClient {
  readonly accessMode: DifyAccessMode;
  /** Detects the app (name, mode) with the cheapest side-effect-free call; doubles as the credentials check. */
  getApp(): Promise<DifyApp>;
  /** What this mode can see of that app. */
  coverage(app: DifyApp): Coverage;
  /** Every conversation active (created or updated) inside the window, each id once. */
  listConversations(app: DifyApp, window: CrawlWindow): AsyncIterable<ConversationRef>;
  /** All messages of one conversation, chronological. Throws (never returns []) when they cannot be fetched. */
  getMessages(app: DifyApp, ref: ConversationRef): Promise<Record<string, unknown>[]>;
}
