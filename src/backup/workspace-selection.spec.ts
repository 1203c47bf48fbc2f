import type { WorkspaceApp } from '../dify/dify.types';
import { matchesEntry, organizationOf, selectApps } from './workspace-selection';

const apps: WorkspaceApp[] = [
  { id: 'a1', name: 'Support Bot', mode: 'chat' },
  { id: 'a2', name: 'Sales Flow', mode: 'advanced-chat' },
  { id: 'a3', name: 'Helper', mode: 'agent', agent_id: 'ag3' },
  { id: 'a4', name: 'Test: summariser', mode: 'completion' },
];

describe('workspace selection', () => {
  it('matches by App id, Agent id, exact name, name pattern and mode', () => {
    expect(matchesEntry(apps[0], 'a1')).toBe(true);
    expect(matchesEntry(apps[2], 'ag3')).toBe(true);
    expect(matchesEntry(apps[2], 'a3')).toBe(true);
    expect(matchesEntry(apps[0], 'support bot')).toBe(true);
    expect(matchesEntry(apps[0], 'Support')).toBe(false);
    expect(matchesEntry(apps[0], 'Sup*')).toBe(true);
    expect(matchesEntry(apps[3], 'Test:*')).toBe(true);
    expect(matchesEntry(apps[1], '*.Flow')).toBe(false);
    expect(matchesEntry(apps[2], 'mode:agent')).toBe(true);
    expect(matchesEntry(apps[1], 'mode:chat')).toBe(false);
  });

  it('takes every app without lists; exclude wins over include', () => {
    expect(selectApps(apps, {}).selected).toEqual(apps);
    const sut = selectApps(apps, { include: ['mode:agent', 'S*'], exclude: ['Sales*'] });
    expect(sut.selected.map((a) => a.id)).toEqual(['a1', 'a3']);
    expect(sut.excluded.map((e) => [e.app.id, e.reason])).toEqual([
      ['a2', 'excluded by "Sales*"'],
      ['a4', 'matches no include entry'],
    ]);
  });

  it('narrows a run to some apps without calling the others excluded', () => {
    const sut = selectApps(apps, { exclude: ['a4'], only_app_ids: ['a3', 'a4'] });
    expect(sut.selected.map((a) => a.id)).toEqual(['a3']);
    expect(sut.excluded.map((e) => e.app.id)).toEqual(['a4']);
  });

  it('archives an app under its override organization, else the source one', () => {
    const source = { organization_id: 'acme', apps: { a2: { organization_id: 'sales' } } };
    expect(organizationOf(source, 'a2')).toBe('sales');
    expect(organizationOf(source, 'a1')).toBe('acme');
    expect(organizationOf({}, 'a1')).toBeUndefined();
  });
});
