/** Containers for the later image test: a local Debian base, Node from npm, a port on 127.0.0.1. */
import * as http from 'node:http';
import {
  BASE_IMAGE,
  buildImage,
  Container,
  copyNodeBinary,
  ensureBaseImage,
  makeBuildContext,
  runContainer,
  runOnce,
  podman,
  stopContainer,
} from '../support/podman';

jest.setTimeout(900_000);

const SERVER = `require('http').createServer((q, s) => s.end(JSON.stringify({ node: process.version, url: q.url, user: process.getuid() }))).listen(8080, '0.0.0.0')`;

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('podman (rootful, local images only)', () => {
  let image: string;
  let container: Container | undefined;

  beforeAll(async () => {
    await ensureBaseImage();
    const ctx = makeBuildContext({
      Containerfile: [`FROM ${BASE_IMAGE}`, 'COPY node /usr/local/bin/node', 'RUN ["/usr/local/bin/node", "-e", "require(\\"fs\\").writeFileSync(\\"/built-by\\", process.version)"]', 'USER 1000:1000', 'EXPOSE 8080'].join('\n'),
    });
    await copyNodeBinary(ctx);
    image = await buildImage(ctx);
  });

  afterAll(async () => {
    await stopContainer(container);
  });

  it('builds FROM the local bookworm base with node inside', async () => {
    const out = await runOnce(image, ['/usr/local/bin/node', '-e', 'console.log(require("fs").readFileSync("/built-by", "utf8"), require("fs").readFileSync("/etc/debian_version", "utf8").trim())']);
    expect(out.trim()).toBe(`${process.version} ${out.trim().split(' ')[1]}`);
    expect(out.trim().split(' ')[1]).toMatch(/^12\./);
  });

  it('runs `node -e` with a port published on 127.0.0.1 only', async () => {
    container = await runContainer(image, { ports: [8080], command: ['/usr/local/bin/node', '-e', SERVER] });
    const hostPort = container.ports[8080];
    expect(hostPort).toBeGreaterThan(0);
    const res = await get(hostPort, '/hello');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ node: process.version, url: '/hello', user: 1000 });
  });

  it('stops the container by id at once', async () => {
    await stopContainer(container);
    // removed, not left to stop on its own: podman knows no container of that id any more
    expect((await podman(['ps', '--all', '--quiet', '--no-trunc', '--filter', `id=${container!.id}`], 30_000)).stdout.trim()).toBe('');
    await expect(get(container!.ports[8080], '/')).rejects.toThrow();
    container = undefined;
  });
});
