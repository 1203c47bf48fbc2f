import { DEFAULT_SERVER_VERSION, startSimulator } from './simulator';
import { BULK_USER, SERVICE_USERS } from './simulator.store';
import type { SimulatorOptions } from './simulator.types';

/** The demo workspace: the classic apps plus the Agent app "Travel Concierge". */
export const DEMO_SIMULATOR_OPTIONS: Readonly<SimulatorOptions> = { agentApp: true };

/** The `user` strings the generated Service API conversations belong to. */
const SIMULATED_SERVICE_USERS: readonly string[] = [...SERVICE_USERS, BULK_USER];

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
