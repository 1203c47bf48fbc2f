import type { DifyAppMode } from './dify.types';

const MODES: readonly DifyAppMode[] = ['chat', 'agent-chat', 'advanced-chat', 'completion', 'workflow', 'agent'];

/** Modes a workspace shows that hold no conversations: listed as skipped, never backed up. */
export const NOTHING_TO_BACK_UP: readonly string[] = ['channel', 'rag-pipeline'];

/** Dify's app mode string, or null for a mode this service cannot back up. */
export function toAppMode(value: unknown): DifyAppMode | null {
  return typeof value === 'string' && (MODES as readonly string[]).includes(value) ? (value as DifyAppMode) : null;
}

export function isChatMode(mode: DifyAppMode): boolean {
  return mode === 'chat' || mode === 'agent-chat' || mode === 'advanced-chat';
}
