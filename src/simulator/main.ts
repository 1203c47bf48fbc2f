import { DEFAULT_SERVER_VERSION, startSimulator } from './simulator';
import { BULK_USER, SERVICE_USERS } from './simulator.store';
import type { DifySimulator, SimulatorOptions } from './simulator.types';

export interface DemoSource {
  app_id: string;
  name: string;
  organization_id: string;
  console_api_url?: string;
  admin_api_key?: string;
  workspace_id?: string;
  dify_api_url?: string;
  api_key?: string;
  users?: string[];
}

/** The demo workspace: the classic apps plus the Agent app "Travel Concierge". */
export const DEMO_SIMULATOR_OPTIONS: Readonly<SimulatorOptions> = { agentApp: true };

/** The `user` strings the generated Service API conversations belong to. */
export const SIMULATED_SERVICE_USERS: readonly string[] = [...SERVICE_USERS, BULK_USER];

/**
 * Backup sources for `npm run demo`: every app through the console admin key, plus the first chat app
 * through the Service API with the generated end users.
 */
export function demoSourcesFor(sim: DifySimulator): DemoSource[] {
  const sources: DemoSource[] = [];
  if (sim.adminApiKey) {
    for (const app of sim.apps) {
      sources.push({
        app_id: app.id,
        name: app.name,
        organization_id: 'demo',
        console_api_url: sim.consoleApiUrl,
        admin_api_key: sim.adminApiKey,
        workspace_id: sim.workspaceId,
      });
    }
  }
  const chat = sim.apps.find((a) => a.mode === 'chat');
  if (chat) {
    sources.push({
      app_id: chat.id,
      name: `${chat.name} (Service API)`,
      organization_id: 'demo',
      dify_api_url: sim.serviceApiUrl,
      api_key: chat.apiKey,
      users: [...SIMULATED_SERVICE_USERS],
    });
  }
  return sources;
}

async function main(): Promise<void> {
  const seed = process.env.SIM_SEED ? Number(process.env.SIM_SEED) : undefined;
  if (seed !== undefined && !Number.isInteger(seed)) throw new Error('SIM_SEED must be an integer');
  const port = Number(process.env.SIM_PORT ?? 5001);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('SIM_PORT must be a port number');
  const sim = await startSimulator({ ...DEMO_SIMULATOR_OPTIONS, host: process.env.SIM_HOST ?? '127.0.0.1', port, seed });
  // a local demo server with generated keys: printing them is the point
  const lines = [
    `Dify simulator (server version ${DEFAULT_SERVER_VERSION}, seed ${seed ?? 42})`,
    `  Service API:  ${sim.serviceApiUrl}`,
    `  Console API:  ${sim.consoleApiUrl}`,
    `  Admin key:    ${sim.adminApiKey ?? '(disabled)'}`,
    `  Workspace id: ${sim.workspaceId}`,
    `  Account:      ${sim.account.email} / ${sim.account.password} (timezone ${sim.account.timezone})`,
    `  Service API users: ${SIMULATED_SERVICE_USERS.join(', ')}`,
    '  Apps:',
    ...sim.apps.map(
      (a) =>
        `    ${a.mode.padEnd(13)} ${a.id}  ${a.apiKey}  ${a.name} (${a.mode === 'workflow' ? 'workflow runs only' : `${sim.conversations(a.id).length} conversations`}${a.agentId ? `, agent id ${a.agentId}` : ''})`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const stop = () => void sim.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((error: Error) => {
    process.stderr.write(`Simulator failed to start: ${error.message}\n`);
    process.exit(1);
  });
}
