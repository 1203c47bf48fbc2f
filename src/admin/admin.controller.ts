import { Body, Controller, Get, HttpCode, NotFoundException, Param, Post, Query, Render, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { AuthService } from '../common/auth/auth.service';
import { clientAddress } from '../common/auth/client-address';
import { jobAccepted } from '../backup/jobs.types';
import { AdminPageFilter, wantsJson } from './admin-page.filter';
import { AdminSession, AdminSessionGuard, CsrfRejected } from './admin-session';
import { AdminService } from './admin.service';
import { BackupFormDto, CleanFormDto, CsrfFormDto, CleanQueryDto, ExportQueryDto, OverviewQueryDto, SearchQueryDto, VerifyFormDto } from './dto/admin-forms.dto';

/** The server-rendered admin page. Every form works without JavaScript; page scripts only enhance. */
@ApiExcludeController()
@UseGuards(AdminSessionGuard)
@UseFilters(AdminPageFilter)
@Controller('admin')
export class AdminController {
  constructor(
    private readonly admin: AdminService,
    private readonly auth: AuthService,
  ) {}

  @Get()
  @Render('overview')
  async overview(@AdminSession() session: string | undefined, @Query() query: OverviewQueryDto) {
    return { ...this.page(session), ...(await this.admin.overview(query)) };
  }

  @Get('totals')
  totals() {
    return this.admin.totalsText();
  }

  @Post('backup')
  backup(@Req() req: Request, @Res() res: Response, @AdminSession() session: string | undefined, @Body() body: BackupFormDto): void {
    this.checkCsrf(session, body._csrf);
    const job = this.admin.startBackup(body.app_id, body.organization_id);
    if (wantsJson(req)) {
      res.status(202).json(jobAccepted(job));
      return;
    }
    res.redirect(303, `/admin/jobs/${encodeURIComponent(job.id)}`);
  }

  @Get('jobs/:id')
  @Render('job')
  async job(@AdminSession() session: string | undefined, @Param('id') id: string) {
    return { ...this.page(session), ...(await this.admin.job(id)) };
  }

  @Post('jobs/:id/resume')
  async resume(@Req() req: Request, @Res() res: Response, @AdminSession() session: string | undefined, @Param('id') id: string, @Body() body: CsrfFormDto): Promise<void> {
    this.checkCsrf(session, body._csrf);
    const job = await this.admin.resume(id);
    if (wantsJson(req)) {
      res.status(202).json({ job_id: job.id, url: `/admin/jobs/${job.id}` });
      return;
    }
    res.redirect(303, `/admin/jobs/${encodeURIComponent(job.id)}`);
  }

  @Get('export')
  @Render('export')
  async exportForm(@AdminSession() session: string | undefined, @Query() query: ExportQueryDto) {
    return { ...this.page(session), ...(await this.admin.exportForm(query)) };
  }

  @Get('export/download')
  async exportDownload(@AdminSession() session: string | undefined, @Query() query: ExportQueryDto, @Res() res: Response): Promise<void> {
    const file = await this.admin.exportDownload(query);
    if (!file) {
      const range = `${query.start_date ?? 'the beginning'} and ${query.end_date ?? 'today'}`;
      res.status(404).render('export', {
        ...this.page(session),
        ...(await this.admin.exportForm(query)),
        problem: { title: 'Nothing to export', messages: [`No conversation is archived between ${range} for this choice. Pick a wider range or another app.`] },
      });
      return;
    }
    res.status(200);
    res.setHeader('Content-Type', file.contentType);
    res.setHeader('Content-Disposition', `attachment; filename="${file.fileName}"`);
    res.setHeader('Cache-Control', 'no-store');
    await pipeline(file.stream, res).catch(() => res.destroy());
  }

  @Get('search')
  @Render('search')
  async search(@AdminSession() session: string | undefined, @Query() query: SearchQueryDto) {
    return { ...this.page(session), ...(await this.admin.search(query)) };
  }

  @Get('conversations/:id')
  @Render('conversation')
  async conversation(
    @AdminSession() session: string | undefined,
    @Param('id') id: string,
    @Query('organization_id') organizationId?: string,
    @Query('back') back?: string,
  ) {
    return { ...this.page(session), ...(await this.admin.conversation(id, organizationId || undefined, back)) };
  }

  @Get('conversations/:id/download')
  async conversationDownload(@Param('id') id: string, @Res() res: Response, @Query('organization_id') organizationId?: string): Promise<void> {
    const file = await this.admin.conversationFile(id, organizationId || undefined);
    res.status(200);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${file.fileName}"`);
    res.setHeader('Cache-Control', 'no-store');
    res.send(file.body);
  }

  @Get('clean')
  @Render('clean')
  async cleanPreview(@AdminSession() session: string | undefined, @Query() query: CleanQueryDto) {
    return { ...this.page(session), ...(await this.admin.cleanPage(query.days_to_keep, query.organization_id)) };
  }

  @Post('clean')
  @HttpCode(200)
  @Render('clean')
  async clean(@Req() req: Request, @AdminSession() session: string | undefined, @Body() body: CleanFormDto) {
    this.checkCsrf(session, body._csrf);
    return { ...this.page(session), ...(await this.admin.clean(body.days_to_keep, body.organization_id, clientAddress(req))) };
  }

  @Get('verify')
  @Render('verify')
  async verifyPage(@AdminSession() session: string | undefined) {
    return { ...this.page(session), ...(await this.admin.verifyPage()) };
  }

  /** Starts an archive check (or joins the one under way) and goes to its page, which follows it to its result. */
  @Post('verify')
  async verify(@Req() req: Request, @Res() res: Response, @AdminSession() session: string | undefined, @Body() body: VerifyFormDto): Promise<void> {
    this.checkCsrf(session, body._csrf);
    const run = await this.admin.startVerify(body.sha256 === 'on' || body.sha256 === 'true');
    const url = `/admin/verify/${encodeURIComponent(run.id)}`;
    if (wantsJson(req)) {
      res.status(202).json({ run_id: run.id, status: run.status, status_url: url });
      return;
    }
    res.redirect(303, url);
  }

  /** The check's page; its JSON (for the page script's progress) with `Accept: application/json`. */
  @Get('verify/:id')
  async verifyRun(@Req() req: Request, @Res() res: Response, @AdminSession() session: string | undefined, @Param('id') id: string): Promise<void> {
    if (wantsJson(req)) {
      res.json(await this.admin.verifyRun(id));
      return;
    }
    res.render('verify', { ...this.page(session), ...(await this.admin.verifyPage(id)) });
  }

  @Get('*path')
  notFound(): never {
    throw new NotFoundException({ message: 'there is no such page; use the menu above' });
  }

  private page(session: string | undefined) {
    return { csrf: this.auth.csrfFor(session), signOut: this.auth.enabled };
  }

  private checkCsrf(session: string | undefined, token: string | undefined): void {
    if (!this.auth.verifyCsrf(session, token)) throw new CsrfRejected();
  }
}
