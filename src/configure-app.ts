import { HttpException, ValidationPipe } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import * as express from 'express';
import helmet from 'helmet';
import * as path from 'node:path';
import { configureAdminViews } from './admin/admin-views';
import { checkApiCredentials } from './common/auth/api-auth.guard';
import { AuthService } from './common/auth/auth.service';
import { AllExceptionsFilter, ArchiveErrorFilter, DifyErrorFilter, DomainErrorFilter } from './common/filters/http-exception.filter';
import { crossSiteCheck, hostCheck, sendRefusal } from './common/request-origin.middleware';
import { AppConfig } from './config/app-config';

/** The one HTTP setup shared by main.ts and the e2e tests. */
export function configureApp(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          // the service is often reached over plain HTTP on a LAN; upgrading would break the admin page's assets
          upgradeInsecureRequests: null,
        },
      },
    }),
  );
  // before the body parsers, so a refused request is not even read
  app.use(hostCheck(config));
  app.use(crossSiteCheck(config));
  app.use(express.json({ limit: config.bodyLimit }));
  app.use(express.urlencoded({ extended: false, limit: config.bodyLimit }));
  app.useGlobalPipes(
    new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
  );
  // the later filters take precedence over the catch-all
  app.useGlobalFilters(new AllExceptionsFilter(), new DifyErrorFilter(), new ArchiveErrorFilter(), new DomainErrorFilter());
  configureAdminViews(app);
  // Swagger's routes are plain Express handlers that the global guard never sees
  const auth = app.get(AuthService);
  app.use((req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (!auth.enabled || !(req.path === '/api/docs' || req.path.startsWith('/api/docs/') || req.path.startsWith('/api/docs-json'))) return next();
    try {
      checkApiCredentials(auth, req);
    } catch (e) {
      if (!(e instanceof HttpException)) throw e;
      // a browser without a token gets the sign-in page and comes back; API clients keep the JSON 401
      const browser = req.method === 'GET' && !req.path.startsWith('/api/docs-json') && /\btext\/html\b/i.test(req.headers.accept ?? '');
      if (e.getStatus() === 401 && browser && !req.headers.authorization) {
        res.redirect(303, `/admin/login?next=${encodeURIComponent('/api/docs')}`);
        return;
      }
      const body = e.getResponse() as { message: string; field: string };
      sendRefusal(res, e.getStatus(), body.message, body.field);
      return;
    }
    next();
  });
  // After the hooks have drained the jobs and closed the archive, exit 0 rather than re-raise the signal:
  // as PID 1 in a container a re-raised SIGTERM has no default action, and the process would stay up.
  app.enableShutdownHooks(undefined, { useProcessExit: true });

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Dify Log Vault')
      .setDescription(
        'A complete, owned, searchable archive of every conversation your Dify apps have had. ' +
          'With ADMIN_TOKEN set, every /api route needs `Authorization: Bearer <ADMIN_TOKEN>`.',
      )
      .setVersion('0.1.0')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}
