import type { DifyAppMode } from './dify.types';

const MODES: readonly DifyAppMode[] = ['chat', 'agent-chat', 'advanced-chat', 'completion', 'workflow'];

/** Dify's app mode string, or null for a mode this service cannot back up. */
export function toAppMode(value: unknown): DifyAppMode | null {
  return typeof value === 'string' && (MODES as readonly string[]).includes(value) ? (value as DifyAppMode) : null;
}

export function isChatMode(mode: DifyAppMode): boolean {
  return mode === 'chat' || mode === 'agent-chat' || mode === 'advanced-chat';
}
