import { Body, Controller, Get, HttpCode, Post, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { readCookie, SESSION_COOKIE } from '../common/auth/api-auth.guard';
import { AuthService } from '../common/auth/auth.service';
import { clientAddress } from '../common/auth/client-address';
import { AdminPageFilter } from './admin-page.filter';
import { AdminSession, AdminSessionGuard, CsrfRejected, safeNext, SESSION_MAX_AGE_SECONDS, sessionCookie } from './admin-session';
import { CsrfFormDto, LoginFormDto } from './dto/admin-forms.dto';

/** Sign-in and sign-out of the admin page (only meaningful when ADMIN_TOKEN is set). */
@ApiExcludeController()
@UseFilters(AdminPageFilter)
@Controller()
export class AdminAuthController {
  constructor(private readonly auth: AuthService) {}

  @Get()
  root(@Res() res: Response): void {
    res.redirect(302, '/admin');
  }

  @Get('admin/login')
  loginForm(@Req() req: Request, @Res() res: Response, @Query('next') next?: string): void {
    const target = safeNext(next);
    if (!this.auth.enabled || this.auth.verifySession(readCookie(req, SESSION_COOKIE))) {
      res.redirect(303, target);
      return;
    }
    res.render('login', { title: 'Sign in', next: target });
  }

  @Post('admin/login')
  @HttpCode(200)
  login(@Req() req: Request, @Res() res: Response, @Body() body: LoginFormDto): void {
    const target = safeNext(body.next);
    if (!this.auth.enabled) {
      res.redirect(303, target);
      return;
    }
    // only wrong tokens are throttled: the right one always signs in
    if (!this.auth.verifyToken(body.token)) {
      const throttled = this.auth.failedAttempt(clientAddress(req)) === 'throttled';
      res.status(throttled ? 429 : 401).render('login', {
        title: 'Sign in',
        next: target,
        problem: throttled
          ? { title: 'Too many attempts', messages: ['Too many wrong tokens. Wait a minute, then try again.'] }
          : { title: 'Wrong token', messages: ['That is not the admin token of this service. Check it and try again.'] },
      });
      return;
    }
    res.append('Set-Cookie', sessionCookie(this.auth.createSession(), req, SESSION_MAX_AGE_SECONDS));
    res.redirect(303, target);
  }

  @Post('admin/logout')
  @UseGuards(AdminSessionGuard)
  logout(@Req() req: Request, @Res() res: Response, @AdminSession() session: string | undefined, @Body() body: CsrfFormDto): void {
    if (!this.auth.verifyCsrf(session, body._csrf)) throw new CsrfRejected();
    res.append('Set-Cookie', sessionCookie('', req, 0));
    res.redirect(303, this.auth.enabled ? '/admin/login' : '/admin');
  }
}
