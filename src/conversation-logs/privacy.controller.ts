import { Controller, Delete, Get, Param, Query, Req } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { JobsService } from '../backup/jobs.service';
import { clientAddress } from '../common/auth/client-address';
import { LogStorageService } from '../log-storage/log-storage.service';
import type { EraseResult } from '../log-storage/log-storage.types';
import { AuditLog } from '../log-storage/privacy/audit-log';
import { ArchiveErrorResponseDto } from './dto/archive-responses.dto';
import {
  AuditPageDto,
  AuditQueryDto,
  EndUserParamsDto,
  EraseEndUserQueryDto,
  EraseEndUserResponseDto,
  LiftErasureQueryDto,
  LiftErasureResponseDto,
} from './dto/privacy.dto';

const BAD_REQUEST = { type: ArchiveErrorResponseDto, description: 'A parameter is missing or malformed; `message` and `field` name it' };

/** Forgetting a person on request, and the record of every deletion. */
@ApiTags('privacy')
@Controller('api')
export class PrivacyController {
  constructor(
    private readonly storage: LogStorageService,
    private readonly audit: AuditLog,
    private readonly jobs: JobsService,
  ) {}

  @Delete('end-users/:end_user')
  @ApiOperation({
    summary: "Erase every conversation of one end user (Dify end-user id or session id) from the archive, for good",
    description:
      'Files (compressed ones too), catalog rows, full-text entries and statistics are removed and the freed space of the catalog is overwritten; ' +
      'the end user is remembered as a salted hash so later backups skip them. Answers counts, never content. Try dry_run=true first.',
  })
  @ApiOkResponse({ type: EraseEndUserResponseDto })
  @ApiBadRequestResponse(BAD_REQUEST)
  erase(@Param() params: EndUserParamsDto, @Query() query: EraseEndUserQueryDto, @Req() req: Request): Promise<EraseResult> {
    return this.storage.eraseEndUser(params.end_user, {
      ...(query.organization_id !== undefined ? { organizationId: query.organization_id } : {}),
      ...(query.app_id !== undefined ? { appId: query.app_id } : {}),
      dryRun: query.dry_run ?? false,
      actor: { route: 'api', client: clientAddress(req) },
      forgetPaths: (paths) => this.jobs.forgetArchivePaths(paths),
    });
  }

  @Delete('erasures/:end_user')
  @ApiOperation({ summary: 'Lift an erasure: later backups archive this end user again' })
  @ApiOkResponse({ type: LiftErasureResponseDto })
  @ApiBadRequestResponse(BAD_REQUEST)
  async lift(@Param() params: EndUserParamsDto, @Query() query: LiftErasureQueryDto, @Req() req: Request): Promise<LiftErasureResponseDto> {
    const lifted = await this.storage.liftErasure(params.end_user, query.organization_id, { route: 'api', client: clientAddress(req) });
    return { success: true, lifted };
  }

  @Get('audit')
  @ApiOperation({
    summary: 'The audit log: every erasure, lifted erasure and retention clean, newest first',
    description:
      'When, what, how many, through which route and from which client; never content or secrets. Kept in LOGS_DIR/state/audit.jsonl, or in PostgreSQL when DATABASE_URL is set.',
  })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiBadRequestResponse(BAD_REQUEST)
  auditPage(@Query() query: AuditQueryDto): Promise<AuditPageDto> {
    return this.audit.read(query.limit ?? 50, query.offset ?? 0);
  }
}
