/**
 * A loopback HTTP proxy between an S3 client and a real S3 endpoint (the run's Ceph gateway) that answers
 * chosen requests with a fault instead of forwarding them: `503 SlowDown`, `500 InternalError`, or a
 * socket that takes the request and never answers (the client's request timeout has to end it). Every
 * other request, and every request once a fault's count is used up, is forwarded byte for byte, headers
 * included (the SigV4 signature covers the Host header, which is kept).
 *
 *   const proxy = await startS3FaultProxy(s3.endpoint);
 *   proxy.inject({ method: 'PUT', path: 'conversations/', fault: 'slowdown', times: 2 });
 *   ... S3_ENDPOINT=proxy.endpoint ...
 *   await proxy.close();
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * `cut`: the request is forwarded, and its answer cut off half way through the body (the socket closed);
 * `hold`: the request is forwarded and done by the gateway (a PUT's object stored), its answer never sent (the
 * writer still waits for it: the moment a kill leaves a stored object without its catalog row)
 */
export type S3Fault = 'slowdown' | 'internal' | 'stall' | 'cut' | 'hold';

export interface FaultRule {
  /** only requests of this method (GET, PUT, HEAD, POST for DeleteObjects...); any when absent */
  method?: string;
  /** only requests whose URL path (`/<bucket>/<key>`, decoded) contains this */
  path: string;
  /** only requests whose query string contains this (`list-type=2` for a listing, `delete` for DeleteObjects) */
  query?: string;
  fault: S3Fault;
  /** how many matching requests get the fault; Infinity for a fault that lasts until `clear` */
  times: number;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  fault: S3Fault | null;
}

export interface S3FaultProxy {
  /** http://127.0.0.1:<port>, to use as the S3 endpoint */
  endpoint: string;
  /** every request seen, in order of arrival */
  requests: ProxiedRequest[];
  /** the most requests of a method under a path forwarded at once (from arrival to the end of the answer) since `resetPeaks` */
  peak(method: string): number;
  resetPeaks(): void;
  /** adds a rule; returns how many faults it has given so far */
  inject(rule: FaultRule): () => number;
  /** removes every rule (stalled sockets are closed) */
  clear(): void;
  close(): Promise<void>;
}

const ERRORS: Record<Exclude<S3Fault, 'stall' | 'cut' | 'hold'>, { status: number; code: string; message: string }> = {
  slowdown: { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
  internal: { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
};

export async function startS3FaultProxy(target: string): Promise<S3FaultProxy> {
  const upstream = new URL(target);
  const rules: (FaultRule & { given: number })[] = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const stalled = new Set<Socket>();
  const inFlight = new Map<string, number>();
  const peaks = new Map<string, number>();

  const server = http.createServer((req, res) => {
    const [rawPath, query = ''] = (req.url ?? '/').split('?');
    const path = decodeURIComponent(rawPath);
    const method = req.method ?? 'GET';
    const rule = rules.find(
      (r) => r.given < r.times && (!r.method || r.method === method) && path.includes(r.path) && (r.query === undefined || query.includes(r.query)),
    );
    requests.push({ method, path, fault: rule?.fault ?? null });
    if (rule && rule.fault !== 'cut' && rule.fault !== 'hold') {
      rule.given++;
      // take the body, as a server does before it answers
      req.resume();
      if (rule.fault === 'stall') {
        stalled.add(req.socket);
        return;
      }
      const e = ERRORS[rule.fault];
      req.on('end', () => {
        const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${e.code}</Code><Message>${e.message}</Message><RequestId>fault-proxy</RequestId></Error>`;
        res.writeHead(e.status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
        res.end(method === 'HEAD' ? undefined : body);
      });
      return;
    }
    // counted on arrival, so that requests in flight at once do not all take a single hold
    if (rule?.fault === 'hold') rule.given++;
    inFlight.set(method, (inFlight.get(method) ?? 0) + 1);
    peaks.set(method, Math.max(peaks.get(method) ?? 0, inFlight.get(method)!));
    res.once('close', () => inFlight.set(method, inFlight.get(method)! - 1));
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method, path: req.url, headers: req.headers },
      (answer) => {
        if (rule?.fault === 'hold') {
          // done upstream; the client is left waiting (until `clear` or `close`)
          answer.resume();
          stalled.add(req.socket);
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        if (rule?.fault !== 'cut') {
          answer.pipe(res);
          return;
        }
        rule.given++;
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
        });
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      stalled.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    peak: (method) => peaks.get(method) ?? 0,
    resetPeaks: () => peaks.clear(),
    inject(rule) {
      const entry = { ...rule, given: 0 };
      rules.push(entry);
      return () => entry.given;
    },
    clear() {
      rules.splice(0);
      for (const socket of stalled) socket.destroy();
      stalled.clear();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
