import { CanActivate, ExecutionContext, HttpException, HttpStatus, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request } from 'express';
import { AuthService, safeEqual } from '../common/auth/auth.service';
import { AppConfig } from '../config/app-config';

/**
 * GET /metrics is open while neither ADMIN_TOKEN nor METRICS_TOKEN is set; otherwise it needs
 * `Authorization: Bearer <token>` with either. Failures count towards the same per-client limit as the API.
 */
@Injectable()
export class MetricsAuthGuard implements CanActivate {
  private readonly tokens: string[];

  constructor(
    config: AppConfig,
    private readonly auth: AuthService,
  ) {
    this.tokens = [config.adminToken, config.observability.metricsToken].filter((t): t is string => !!t);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.tokens.length) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const client = req.socket.remoteAddress ?? 'unknown';
    if (this.auth.isRateLimited(client)) {
      throw new HttpException({ message: 'too many failed authentication attempts; try again in a minute' }, HttpStatus.TOO_MANY_REQUESTS);
    }
    const match = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    // every token is compared, so the time taken does not tell which one matched
    const matches = match ? this.tokens.map((t) => safeEqual(match[1], t)) : [];
    if (matches.includes(true)) return true;
    this.auth.recordFailure(client);
    throw new UnauthorizedException({
      message: 'this route needs Authorization: Bearer <METRICS_TOKEN or ADMIN_TOKEN>',
      field: 'Authorization',
    });
  }
}
