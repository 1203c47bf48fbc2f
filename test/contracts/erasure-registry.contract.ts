import { createHash } from 'node:crypto';
import type { ConversationOwner, ErasureRegistry } from '../../src/log-storage/privacy/erasure-registry';

/** A registry under test over fresh, empty storage; `another` opens a second instance over the same storage (another replica or process). */
export interface ErasureRegistrySubject {
  registry: ErasureRegistry;
  another(): Promise<ErasureRegistry>;
  /** everything the storage holds, as text (file bytes, table rows), to prove what is kept and what is not */
  stored(): Promise<string>;
  dispose(): Promise<void>;
}

const conversation = (user: string, overrides: Partial<ConversationOwner> = {}): ConversationOwner => ({
  organization_id: 'acme',
  app_id: 'app-1',
  from_end_user_id: user,
  from_end_user_session_id: null,
  ...overrides,
});

/**
 * What every `ErasureRegistry` does, wherever it keeps its records:
 * `describeErasureRegistryContract('PostgresErasureRegistry', async () => ...)`.
 */
export function describeErasureRegistryContract(name: string, create: () => Promise<ErasureRegistrySubject>): void {
  describe(`ErasureRegistry contract: ${name}`, () => {
    let subject: ErasureRegistrySubject;
    let sut: ErasureRegistry;

    beforeEach(async () => {
      subject = await create();
      sut = subject.registry;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('starts empty and matches nobody', async () => {
      expect(await sut.count()).toBe(0);
      expect((await sut.matcher())(conversation('anyone'))).toBe(false);
    });

    it('records an erasure once per scope and matches the end user by id or session', async () => {
      await sut.remember('user-1', {});
      await sut.remember('user-1', { organizationId: null, appId: null });
      expect(await sut.count()).toBe(1);
      const isErased = await sut.matcher();
      expect(isErased(conversation('user-1'))).toBe(true);
      expect(isErased(conversation('user-1', { organization_id: 'globex', app_id: 'app-9' }))).toBe(true);
      expect(isErased(conversation('someone', { from_end_user_session_id: 'user-1' }))).toBe(true);
      expect(isErased(conversation('user-2'))).toBe(false);
      expect(isErased(conversation('', { from_end_user_id: 42 }))).toBe(false);
    });

    it('keeps an erasure to its organization and app', async () => {
      await sut.remember('user-1', { organizationId: 'acme' });
      await sut.remember('user-2', { organizationId: 'acme', appId: 'app-1' });
      await sut.remember('user-3', { appId: 'app-2' });
      await sut.remember('user-4', { organizationId: '' });
      expect(await sut.count()).toBe(4);
      const isErased = await sut.matcher();
      expect(isErased(conversation('user-1'))).toBe(true);
      expect(isErased(conversation('user-1', { organization_id: 'globex' }))).toBe(false);
      expect(isErased(conversation('user-2'))).toBe(true);
      expect(isErased(conversation('user-2', { app_id: 'app-2' }))).toBe(false);
      expect(isErased(conversation('user-3', { organization_id: 'globex', app_id: 'app-2' }))).toBe(true);
      expect(isErased(conversation('user-3'))).toBe(false);
      // '' names the conversations without an organization, not every organization
      expect(isErased(conversation('user-4'))).toBe(false);
      expect(isErased(conversation('user-4', { organization_id: '' }))).toBe(true);
    });

    it('lifts the erasures of an end user, of one organization when given', async () => {
      await sut.remember('user-1', { organizationId: 'acme' });
      await sut.remember('user-1', { organizationId: 'globex' });
      await sut.remember('user-1', {});
      await sut.remember('user-2', { organizationId: 'acme' });
      expect(await sut.forget('nobody')).toBe(0);
      expect(await sut.forget('user-1', 'globex')).toBe(1);
      expect(await sut.count()).toBe(3);
      expect(await sut.forget('user-1')).toBe(2);
      expect(await sut.count()).toBe(1);
      const isErased = await sut.matcher();
      expect(isErased(conversation('user-1'))).toBe(false);
      expect(isErased(conversation('user-2'))).toBe(true);
      expect(await sut.forget('user-2', 'globex')).toBe(0);
    });

    it('stands for an end user by a salted hash only, one salt for every instance, never kept beside the id', async () => {
      const hash = await sut.hashOf('user-1');
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      expect(await sut.hashOf('user-1')).toBe(hash);
      expect(await sut.hashOf('user-2')).not.toBe(hash);
      const unsalted = [createHash('sha256').update('user-1').digest('hex'), createHash('sha256').update(':user-1').digest('hex')];
      expect(unsalted).not.toContain(hash);

      await sut.remember('user-1', { organizationId: 'acme', appId: 'app-1' });
      const other = await subject.another();
      expect(await other.hashOf('user-1')).toBe(hash);
      expect((await other.matcher())(conversation('user-1'))).toBe(true);
      const stored = await subject.stored();
      expect(stored).toContain(hash);
      expect(stored).not.toContain('user-1');
    });

    it('makes one salt when two instances start on empty storage at once', async () => {
      const other = await subject.another();
      const [a, b] = await Promise.all([sut.hashOf('user-1'), other.hashOf('user-1')]);
      expect(a).toBe(b);
      expect(await sut.hashOf('user-1')).toBe(a);
    });

    it('gives every backup starting at once on empty storage its matcher (one per app of a workspace, on several instances)', async () => {
      const instances = [sut, ...(await Promise.all([subject.another(), subject.another(), subject.another()]))];
      const other = instances[1];
      const matchers = await Promise.all(Array.from({ length: 40 }, (_, i) => instances[i % instances.length].matcher()));
      expect(matchers.map((isErased) => isErased(conversation('anyone')))).toEqual(matchers.map(() => false));
      await sut.remember('user-1', {});
      expect((await other.matcher())(conversation('user-1'))).toBe(true);
    });

    it('loses no write of two instances writing at once', async () => {
      const other = await subject.another();
      const users = Array.from({ length: 24 }, (_, i) => `user-${i}`);
      await Promise.all(users.map((u, i) => (i % 2 ? other : sut).remember(u, { organizationId: 'acme' })));
      expect(await sut.count()).toBe(users.length);
      expect(await other.count()).toBe(users.length);
      const isErased = await other.matcher();
      expect(users.every((u) => isErased(conversation(u)))).toBe(true);

      const lifted = await Promise.all(users.slice(0, 12).map((u, i) => (i % 2 ? sut : other).forget(u)));
      expect(lifted).toEqual(users.slice(0, 12).map(() => 1));
      expect(await sut.count()).toBe(12);
      const after = await sut.matcher();
      expect(users.map((u) => after(conversation(u)))).toEqual(users.map((_, i) => i >= 12));
    });
  });
}
