import type { DifyAccessMode, DifyAppMode } from '../common/conversation-log';
import type { DifySource } from '../config/dify-source';

/** A source is configuration: it is defined in config/ and used by the clients here. */
export type { DifySource };

export type { DifyAccessMode, DifyAppMode };


/** A console source for a whole workspace: the same credentials, no app named. */
export type DifyWorkspaceSource = Omit<DifySource, 'app_id' | 'name' | 'dify_api_url' | 'api_key' | 'users'>;

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
  /**
   * Warnings about single conversations or runs gathered by listConversations/getMessages since the last
   * call (a workflow run archived without its detail, a soft-deleted Agent conversation, ...), each said
   * once. The backup run calls it when the crawl ends and adds them to the run's warnings.
   */
  takeWarnings?(): string[];
  /** Console modes: the app's configuration (DSL export, never with its secrets). The Service API has none. */
  getAppConfig?(app: DifyApp): Promise<AppConfigExport>;
}

/** One app of a workspace that can be backed up. */
export interface WorkspaceApp {
  id: string;
  name: string;
  mode: DifyAppMode;
  /** `agent` apps: the Agent id their logs live under */
  agent_id?: string;
}

/** An app of the workspace that is not backed up, and why. */
export interface SkippedApp {
  id: string;
  name: string;
  mode: string;
  reason: string;
}

export interface WorkspaceAppListing {
  apps: WorkspaceApp[];
  skipped: SkippedApp[];
  /** e.g. the Agent roster had to be read (it writes a debugger conversation in Dify) */
  warnings: string[];
}

/** An app's configuration as Dify exports it (DSL), secrets left out. */
export interface AppConfigExport {
  yaml: string;
  /** hex SHA-256 of the UTF-8 YAML: tells a changed configuration from an unchanged one */
  sha256: string;
}
