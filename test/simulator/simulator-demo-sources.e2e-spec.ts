import { validateSource } from '../../src/config/app-config';
import { demoSourcesFor } from '../../src/simulator/main';
import { startSimulator } from '../../src/simulator/simulator';

describe(demoSourcesFor.name, () => {
  it('lists every app through the admin key plus the first chat app through the Service API, all valid sources', async () => {
    const sim = await startSimulator({ conversationsPerApp: 2 });
    try {
      const sources = demoSourcesFor(sim);
      expect(sources).toHaveLength(sim.apps.length + 1);
      for (const app of sim.apps) {
        expect(sources).toContainEqual(
          expect.objectContaining({ app_id: app.id, organization_id: 'demo', console_api_url: sim.consoleApiUrl, admin_api_key: 'sim-admin-key', workspace_id: sim.workspaceId }),
        );
      }
      const chat = sim.apps.find((a) => a.mode === 'chat')!;
      expect(sources.at(-1)).toMatchObject({ app_id: chat.id, dify_api_url: sim.serviceApiUrl, api_key: chat.apiKey, users: expect.arrayContaining(['user-alice']) });
      sources.forEach((s, i) => expect(() => validateSource(s, `demo source ${i}`)).not.toThrow());
    } finally {
      await sim.close();
    }
  });
});
