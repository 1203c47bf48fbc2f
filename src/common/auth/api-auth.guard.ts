import { CanActivate, ExecutionContext, HttpException, HttpStatus, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request } from 'express';
import { AuthService } from './auth.service';
import { clientAddress } from './client-address';

export const SESSION_COOKIE = 'vault_session';

export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export function isApiPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/');
}

function refusal(auth: AuthService, req: Request, message: string): HttpException {
  if (auth.failedAttempt(clientAddress(req)) === 'throttled') {
    return new HttpException(
      { message: 'too many failed authentication attempts; try again in a minute', field: 'Authorization' },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
  return new UnauthorizedException({ message, field: 'Authorization' });
}

/**
 * Accepts `Authorization: Bearer <ADMIN_TOKEN>`, or the admin page's session cookie (and, for anything but GET,
 * its CSRF token); throws the refusal otherwise. The right credential is never throttled; wrong ones from one
 * client get 429 after ten a minute. Shared by the guard and the Swagger routes, which the guard never sees.
 */
export function checkApiCredentials(auth: AuthService, req: Request): void {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer (.+)$/i.exec(header);
    if (match && auth.verifyToken(match[1])) return;
    throw refusal(auth, req, 'the Authorization bearer token is not valid');
  }
  const session = readCookie(req, SESSION_COOKIE);
  if (session && auth.verifySession(session)) {
    const safe = req.method === 'GET' || req.method === 'HEAD';
    if (safe || auth.verifyCsrf(session, req.header('x-csrf-token'))) return;
    throw new UnauthorizedException({ message: 'the X-CSRF-Token header is missing or invalid', field: 'X-CSRF-Token' });
  }
  throw refusal(auth, req, 'this route needs Authorization: Bearer <ADMIN_TOKEN>');
}

/** With ADMIN_TOKEN set, every /api route needs the token or a session (see checkApiCredentials). */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    if (this.auth.enabled && isApiPath(req.path)) checkApiCredentials(this.auth, req);
    return true;
  }
}
