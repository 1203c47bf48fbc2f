import { CanActivate, ExecutionContext, HttpException, HttpStatus, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request } from 'express';
import { AuthService } from './auth.service';

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

/**
 * With ADMIN_TOKEN set, every /api route needs `Authorization: Bearer <ADMIN_TOKEN>`, or the admin page's
 * session cookie (and, for anything but GET, its CSRF token). Repeated failures from one client get 429.
 */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    if (!this.auth.enabled || !(req.path === '/api' || req.path.startsWith('/api/'))) return true;
    const client = req.socket.remoteAddress ?? 'unknown';
    if (this.auth.isRateLimited(client)) {
      throw new HttpException(
        { message: 'too many failed authentication attempts; try again in a minute' },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    const header = req.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer (.+)$/i.exec(header);
      if (match && this.auth.verifyToken(match[1])) return true;
      this.auth.recordFailure(client);
      throw new UnauthorizedException({ message: 'the Authorization bearer token is not valid', field: 'Authorization' });
    }
    const session = readCookie(req, SESSION_COOKIE);
    if (session && this.auth.verifySession(session)) {
      const safe = req.method === 'GET' || req.method === 'HEAD';
      if (safe || this.auth.verifyCsrf(session, req.header('x-csrf-token'))) return true;
      throw new UnauthorizedException({ message: 'the X-CSRF-Token header is missing or invalid', field: 'X-CSRF-Token' });
    }
    this.auth.recordFailure(client);
    throw new UnauthorizedException({
      message: 'this route needs Authorization: Bearer <ADMIN_TOKEN>',
      field: 'Authorization',
    });
  }
}
