import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { describePageError } from './admin-errors';
import { SignInRequired } from './admin-session';

export function wantsJson(req: Request): boolean {
  return (req.headers.accept ?? '').includes('application/json');
}

/** Admin pages answer errors with a page (or, for their own scripts, a JSON message), never a stack trace. */
@Catch()
export class AdminPageFilter implements ExceptionFilter {
  private readonly logger = new Logger('AdminPage');

  catch(error: unknown, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof SignInRequired) {
      if (wantsJson(req)) {
        res.status(401).json({ statusCode: 401, message: 'Your session has ended. Sign in again.' });
        return;
      }
      res.redirect(303, `/admin/login?next=${encodeURIComponent(error.next)}`);
      return;
    }
    const page = describePageError(error);
    if (page.unexpected) {
      this.logger.error(`Failed ${req.method} ${req.path}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    }
    if (wantsJson(req)) {
      res.status(page.status).json({ statusCode: page.status, title: page.title, message: page.messages.join(' ') });
      return;
    }
    res.status(page.status).render('error', { title: page.title, page });
  }
}
