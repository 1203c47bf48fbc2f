import {
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  Injectable,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { readCookie, SESSION_COOKIE } from '../common/auth/api-auth.guard';
import { AuthService } from '../common/auth/auth.service';

/** Thrown by AdminSessionGuard; the page filter turns it into a redirect to the sign-in form. */
export class SignInRequired extends Error {
  constructor(readonly next: string) {
    super('sign-in required');
  }
}

/** A form arrived without the CSRF token of its session. */
export class CsrfRejected extends Error {
  constructor() {
    super('This form has expired. Reload the page and try again.');
  }
}

export interface AdminRequest extends Request {
  adminSession?: string;
}

export function sessionCookie(value: string, req: Request, maxAgeSeconds: number): string {
  return [
    `${SESSION_COOKIE}=${encodeURIComponent(value)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${maxAgeSeconds}`,
    ...(req.secure ? ['Secure'] : []),
  ].join('; ');
}

export const SESSION_MAX_AGE_SECONDS = 12 * 60 * 60;

/**
 * Every admin page needs a valid session when ADMIN_TOKEN is set. Without a token the page is open, but a
 * random session cookie is still issued so that CSRF tokens are bound to the browser, not guessable.
 */
@Injectable()
export class AdminSessionGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const req = http.getRequest<AdminRequest>();
    const res = http.getResponse<Response>();
    const session = readCookie(req, SESSION_COOKIE);
    if (this.auth.enabled) {
      if (!session || !this.auth.verifySession(session)) {
        throw new SignInRequired(req.method === 'GET' ? req.originalUrl : '/admin');
      }
      req.adminSession = session;
      return true;
    }
    if (session) {
      req.adminSession = session;
    } else {
      req.adminSession = this.auth.createSession();
      res.append('Set-Cookie', sessionCookie(req.adminSession, req, SESSION_MAX_AGE_SECONDS));
    }
    return true;
  }
}

/** The session of the current admin request (set by AdminSessionGuard). */
export const AdminSession = createParamDecorator((_: unknown, ctx: ExecutionContext): string | undefined => {
  return ctx.switchToHttp().getRequest<AdminRequest>().adminSession;
});

/** A same-site path to go back to after signing in; anything else becomes /admin. */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/admin';
  if (next.startsWith('/admin/login') || next.startsWith('/admin/logout')) return '/admin';
  return next.length > 512 ? '/admin' : next;
}
