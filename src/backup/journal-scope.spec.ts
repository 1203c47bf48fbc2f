import { isProcessAlive, PROCESS_ID, PROCESS_STARTED_AT } from '../common/process-liveness';
import type { JournaledWrite } from '../log-storage/catalog';
import { writesOfGoneReplicas, writesOfGoneWriters, writesOfSources } from './journal-scope';

const write = (over: Partial<JournaledWrite>): JournaledWrite => ({
  path: 'conversations/acme/2024/01/16/conversation_c1_2024-01-16T12-30-29-000Z.json',
  org_key: 'acme',
  app_id: 'bot',
  writer: 'elsewhere:1',
  since: Date.now(),
  ...over,
});

describe(writesOfSources.name, () => {
  it("takes an app source's writes by organization and app, a workspace's by organization", () => {
    const app = writesOfSources([{ app_id: 'bot', organization_id: 'acme' }]);
    expect(app(write({}))).toBe(true);
    expect(app(write({ app_id: 'other' }))).toBe(false);
    expect(app(write({ org_key: '' }))).toBe(false);
    const noOrg = writesOfSources([{ app_id: 'bot' }]);
    expect([noOrg(write({ org_key: '' })), noOrg(write({}))]).toEqual([true, false]);
    const workspace = writesOfSources([{ app_id: 'ws', workspace: true, organization_id: 'acme', apps: { special: { organization_id: 'beta' } } } as never]);
    expect(workspace(write({ app_id: 'any' }))).toBe(true);
    expect(workspace(write({ app_id: 'special' }))).toBe(false);
    expect(workspace(write({ app_id: 'special', org_key: 'beta' }))).toBe(true);
  });
});

describe(writesOfGoneReplicas.name, () => {
  it('takes the writes of replicas without a heartbeat, never those of a running process of this host', () => {
    const gone = writesOfGoneReplicas(new Set([PROCESS_ID, 'live-host:3']));
    const host = PROCESS_ID.slice(0, PROCESS_ID.lastIndexOf(':'));
    expect(gone(write({ writer: 'dead-host:4' }))).toBe(true);
    expect(gone(write({ writer: 'live-host:3' }))).toBe(false);
    expect(gone(write({ writer: PROCESS_ID }))).toBe(false);
    // this process's id from before a restart (a reused pid), and a running process of this host without a heartbeat (a CLI)
    expect(gone(write({ writer: PROCESS_ID, since: PROCESS_STARTED_AT - 1 }))).toBe(true);
    expect(gone(write({ writer: `${host}:${process.ppid}` }))).toBe(false);
  });

  it('never takes a writer with a heartbeat, even of this host name with a pid not running here (another container)', () => {
    const host = PROCESS_ID.slice(0, PROCESS_ID.lastIndexOf(':'));
    let pid = 4_000_000;
    while (isProcessAlive(pid)) pid++;
    const twin = `${host}:${pid}`;
    expect(writesOfGoneReplicas(new Set([PROCESS_ID, twin]))(write({ writer: twin, since: 1 }))).toBe(false);
    expect(writesOfGoneReplicas(new Set([PROCESS_ID]))(write({ writer: twin, since: 1 }))).toBe(true);
  });
});

describe(writesOfGoneWriters.name, () => {
  it("takes, besides the replicas gone, a dead pid of this host name whose heartbeat still lasts (a job that took its lock)", () => {
    const host = PROCESS_ID.slice(0, PROCESS_ID.lastIndexOf(':'));
    let pid = 4_000_000;
    while (isProcessAlive(pid)) pid++;
    const killed = `${host}:${pid}`;
    const sut = writesOfGoneWriters(new Set([PROCESS_ID, killed, 'live-host:3']));
    expect(sut(write({ writer: killed }))).toBe(true);
    expect(sut(write({ writer: 'live-host:3' }))).toBe(false);
    expect(sut(write({ writer: PROCESS_ID }))).toBe(false);
    expect(sut(write({ writer: `${host}:${process.ppid}` }))).toBe(false);
    expect(sut(write({ writer: 'dead-host:4' }))).toBe(true);
  });
});
