import { Logger } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import * as os from 'node:os';
import { allowedHostnames, hostnameOfHostHeader, HostSettings, hostSettingsWarning, isSameOrigin } from './request-host';

const EXEMPT_PATHS = new Set(['/health', '/health/', '/health/ready', '/health/ready/']);
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** distinct refused names logged, so a flood of made-up hosts cannot flood the log */
const MAX_LOGGED_HOSTS = 100;

/** The JSON error shape of the API, written by middleware that runs before Nest's filters. */
export function sendRefusal(res: Response, status: number, message: string, field: string): void {
  res.status(status).json({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, field });
}

/**
 * Refuses every request whose Host header is not a name the service is meant to be reached by (421), so a
 * page that rebinds its own name to this machine cannot read or change anything through the operator's browser.
 */
export function hostCheck(config: HostSettings, logger = new Logger('HostCheck')): RequestHandler {
  const allowed = allowedHostnames(config, os.networkInterfaces());
  const warning = hostSettingsWarning(config, allowed);
  if (warning) logger.warn(warning);
  const logged = new Set<string>();
  return (req: Request, res: Response, next: NextFunction) => {
    if (EXEMPT_PATHS.has(req.path)) return next();
    const header = req.headers.host;
    const name = hostnameOfHostHeader(header);
    if (name !== null && allowed.has(name)) return next();
    const shown = name ?? (header ? 'malformed' : 'missing');
    if (logged.size < MAX_LOGGED_HOSTS && !logged.has(shown)) {
      logged.add(shown);
      logger.warn(`Refused requests for host ${shown}: add this name to ALLOWED_HOSTNAMES or PUBLIC_URL if clients use it`);
    }
    sendRefusal(
      res,
      421,
      name === null
        ? 'the Host header is missing or malformed'
        : `this service is not configured to answer for host ${name}: add this name to ALLOWED_HOSTNAMES or PUBLIC_URL`,
      'Host',
    );
  };
}

/**
 * Refuses POST, PUT, PATCH and DELETE sent by a page of another site (by Origin or Sec-Fetch-Site), on the
 * API and the admin page alike. Clients that send neither header (curl, the CLI, scripts) are not browsers
 * acting for someone else and pass on to the token check.
 */
export function crossSiteCheck(config: HostSettings): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!STATE_CHANGING.has(req.method)) return next();
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site') {
      sendRefusal(res, 403, 'cross-site request refused: a page of another site may not change anything here', 'Sec-Fetch-Site');
      return;
    }
    const origin = req.headers.origin;
    // a browser posts its own page's form with `Origin: null` under `Referrer-Policy: no-referrer` (helmet's
    // default); only its Sec-Fetch-Site tells that apart from a sandboxed frame of another page
    const ownNullOrigin = origin === 'null' && site === 'same-origin';
    if (origin !== undefined && !ownNullOrigin && !isSameOrigin(origin, req.headers.host, config)) {
      sendRefusal(
        res,
        403,
        'cross-site request refused: the Origin is not this service (if it is, add its host to ALLOWED_HOSTNAMES or set PUBLIC_URL)',
        'Origin',
      );
      return;
    }
    next();
  };
}
