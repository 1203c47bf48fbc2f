/**
 * The real Dockerfile, built with podman on a local stand-in for node:20-bookworm-slim (no registry can
 * be reached), started against the bundled simulator on 127.0.0.1 (host network), backed up into a
 * bind-mounted folder, then stopped with SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startSimulator } from '../../src/simulator/simulator';
import type { DifySimulator, SimulatedApp } from '../../src/simulator/simulator.types';
import { listAllFiles } from '../support/archive';
import { buildImage, Container, ensureNodeImage, podman, removeImage, runContainer, runOnce, stopContainer } from '../support/podman';
import { freePort, runDir, waitUntil } from '../support/processes';

jest.setTimeout(1_800_000);

const REPO = path.resolve(__dirname, '..', '..');
const UID = 1000;

interface ImageConfig {
  User: string;
  Env: string[];
  Cmd: string[];
  Entrypoint: string[] | null;
  Volumes: Record<string, unknown> | null;
  WorkingDir: string;
  Healthcheck?: { Test: string[] };
}

describe('Container image (Dockerfile built with podman, run against the simulator)', () => {
  const token = randomBytes(24).toString('hex');
  const name = `vault-test-${randomBytes(5).toString('hex')}`;
  let image: string;
  let sim: DifySimulator;
  let app: SimulatedApp;
  let container: Container | undefined;
  let port: number;
  let logsDir: string;

  beforeAll(async () => {
    const started = Date.now();
    const nodeImage = await ensureNodeImage();
    const based = Date.now();
    // a name of its own, removed below: other suites' clean-ups of vault-test-* images do not race it
    image = await buildImage(REPO, { tag: `localhost/vault-image-${randomBytes(5).toString('hex')}`, keep: true, containerfile: path.join(REPO, 'Dockerfile'), buildArgs: { NODE_IMAGE: nodeImage }, format: 'docker' });
    process.stderr.write(`container image: base ${((based - started) / 1000).toFixed(1)} s, docker build ${((Date.now() - based) / 1000).toFixed(1)} s\n`);
    sim = await startSimulator({ seed: 11 });
    app = sim.apps.find((a) => a.mode === 'chat')!;
    port = await freePort();
    logsDir = fs.mkdtempSync(path.join(runDir(), 'container-logs-'));
    fs.chownSync(logsDir, UID, UID);
  });

  afterAll(async () => {
    await stopContainer(container);
    await sim?.close();
    if (image) await removeImage(image);
  });

  const api = (route: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${port}${route}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });

  it('declares a non-root user, the archive volume, a node healthcheck and an exec-form command', async () => {
    const [inspected] = JSON.parse((await podman(['image', 'inspect', image], 30_000)).stdout) as { Config: ImageConfig; Healthcheck?: ImageConfig['Healthcheck'] }[];
    const config = { ...inspected.Config, Healthcheck: inspected.Healthcheck ?? inspected.Config.Healthcheck };
    expect(config.User).toBe(`${UID}:${UID}`);
    expect(Object.keys(config.Volumes ?? {})).toEqual(['/data/logs']);
    expect(config.Env).toEqual(expect.arrayContaining(['LOGS_DIR=/data/logs', 'HOST=0.0.0.0', 'PORT=3000', 'NODE_ENV=production']));
    expect(config.Cmd).toEqual(['node', 'dist/main.js']);
    expect(config.Entrypoint ?? []).toEqual([]);
    expect(config.Healthcheck?.Test[0]).toBe('CMD');
    expect(config.Healthcheck?.Test.slice(1, 3)).toEqual(['node', '-e']);
    expect(config.Healthcheck?.Test[3]).toContain('/health');
  });

  it('holds production dependencies, the build and the views, and no sources or dev tools', async () => {
    const out = await runOnce(image, [
      'node',
      '-e',
      `const fs = require('fs');
       const has = (p) => fs.existsSync(p);
       console.log(JSON.stringify({
         main: has('dist/main.js'), layout: has('views/layout.hbs'), public: has('public'),
         sqlite: (() => { new (require('better-sqlite3'))(':memory:').close(); return true; })(),
         nestCore: has('node_modules/@nestjs/core'), jest: has('node_modules/jest'), nestCli: has('node_modules/@nestjs/cli'),
         typescript: has('node_modules/typescript'), src: has('src'), test: has('test'), git: has('.git'),
         codeWritable: (() => { try { fs.accessSync('dist', fs.constants.W_OK); return true; } catch { return false; } })(),
       }));`,
    ]);
    expect(JSON.parse(out.trim())).toEqual({
      main: true,
      layout: true,
      public: true,
      sqlite: true,
      nestCore: true,
      jest: false,
      nestCli: false,
      typescript: false,
      src: false,
      test: false,
      git: false,
      codeWritable: false,
    });
  });

  it('refuses to listen on 0.0.0.0 (the image default) without ADMIN_TOKEN, in one line', async () => {
    await expect(runOnce(image, [], { timeoutMs: 60_000 })).rejects.toThrow(
      /HOST is 0\.0\.0\.0, which is not a loopback address: set ADMIN_TOKEN before listening on other interfaces/,
    );
  });

  it('starts as a non-root PID 1, answers /health/ready and passes its healthcheck', async () => {
    container = await runContainer(image, {
      env: { PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN: token, DIFY_ALLOWED_HOSTS: '127.0.0.1', TZ: 'UTC' },
      volumes: { [logsDir]: '/data/logs' },
      extraArgs: ['--network', 'host', '--name', name],
    });
    await waitUntil('the container answers /health/ready', async () => (await api('/health/ready')).ok, {
      timeoutMs: 60_000,
      failed: () => undefined,
    }).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${(await container!.logs()).slice(-3000)}`);
    });
    const status = fs.readFileSync(`/proc/${container.pid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe(String(UID));
    expect(fs.readFileSync(`/proc/${container.pid}/cmdline`, 'utf8').split('\0').filter(Boolean)).toEqual(['node', 'dist/main.js']);
    const inside = await podman(['exec', name, 'node', '-e', 'console.log(process.getuid(), require("fs").readFileSync("/proc/1/cmdline", "utf8").split("\\0").join(" ").trim())'], 30_000);
    expect(inside.stdout.trim()).toBe(`${UID} node dist/main.js`);
    await podman(['healthcheck', 'run', name], 60_000);
  });

  it('backs up through the API into the bind-mounted volume, files owned by the service user', async () => {
    const res = await api('/api/conversation-logs', {
      method: 'POST',
      body: JSON.stringify({ app_id: app.id, organization_id: 'acme', console_api_url: sim.consoleApiUrl, email: sim.account.email, password: sim.account.password }),
    });
    const body = (await res.json()) as { saved_count: number; failed_count: number; file_paths: string[] };
    expect(res.status).toBe(200);
    const expected = sim.conversations(app.id).length;
    expect(expected).toBeGreaterThan(0);
    expect(body).toMatchObject({ saved_count: expected, failed_count: 0 });
    const onHost = listAllFiles(logsDir).map((f) => path.relative(logsDir, f)).filter((f) => f.startsWith('conversations/'));
    expect(onHost.sort()).toEqual([...body.file_paths].sort());
    for (const file of onHost) expect(fs.statSync(path.join(logsDir, file)).uid).toBe(UID);
    expect(JSON.parse(fs.readFileSync(path.join(logsDir, onHost[0]), 'utf8'))).toMatchObject({ app_id: app.id, organization_id: 'acme' });
  });

  it('stops on SIGTERM (podman stop) with exit code 0 and a shut-down line, well within the grace period', async () => {
    await podman(['stop', '--time', '30', name], 60_000);
    const state = JSON.parse((await podman(['inspect', '--format', '{{json .State}}', name], 30_000)).stdout.trim()) as { ExitCode: number; Running: boolean };
    expect(state.Running).toBe(false);
    // exit code 0: it ended on SIGTERM by itself; past the 30 s grace podman would have killed it (137)
    expect(state.ExitCode).toBe(0);
    expect(await container!.logs()).toContain('Shut down after SIGTERM: running jobs drained, archive closed');
  });
});
