import type { Request } from 'express';

/**
 * The client a request counts against when throttling failed sign-ins and in log lines: the socket's peer,
 * or with TRUST_PROXY the address the trusted proxy put in X-Forwarded-For (Express resolves `req.ip`).
 */
export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}
