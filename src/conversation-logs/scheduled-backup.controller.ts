import { Body, Controller, HttpCode, HttpStatus, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBadRequestResponse, ApiBody, ApiConflictResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { JobAcceptedDto } from '../backup/dto/job.dto';
import { jobAccepted, JobAccepted } from '../backup/jobs.types';
import { AsyncQueryDto } from './dto/async-query.dto';
import { ScheduledBackupDto, ScheduledBackupResponseDto } from './dto/scheduled-backup.dto';
import { ScheduledBackupResponse, ScheduledBackupService } from './scheduled-backup.service';

/** The seed's "scheduled" backup: the configured sources (or the given apps) now, as one job. */
@ApiTags('conversation-logs')
@Controller('api/conversation-logs')
export class ScheduledBackupController {
  constructor(private readonly scheduled: ScheduledBackupService) {}

  @Post('scheduled')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Backs up the given apps, or every configured source, as one job',
    description:
      'Without filters each source catches up from its checkpoint (which then moves); with filters the window is explicit and no checkpoint moves. ' +
      'One failing app never stops the others. A trigger while the same job runs joins it.',
  })
  @ApiBody({ type: ScheduledBackupDto, required: false, examples: { all: { value: {} }, some: { value: { apps: [{ app_id: 'support-bot' }], filters: { start_date: '2025-10-01T00:00:00Z' } } } } })
  @ApiOkResponse({ type: ScheduledBackupResponseDto })
  @ApiAcceptedResponse({ type: JobAcceptedDto, description: 'with ?async=true' })
  @ApiBadRequestResponse({ schema: { example: { statusCode: 400, error: 'Bad Request', message: ['app_id unknown-bot is not a configured source; send its connection fields'], field: 'app_id' } } })
  @ApiConflictResponse({
    description: 'another process (a replica, a CLI backup) is backing up one of the sources: `job_id` is its running job; this run is recorded as skipped',
    schema: {
      example: {
        statusCode: 409,
        error: 'Conflict',
        message: 'job 5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20 (a server, pid 41 on vault-1, since 2025-10-15T02:00:00.012Z) is backing up source acme/support-bot; try again when it has finished',
        job_id: '5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20',
      },
    },
  })
  async run(
    @Body() body: ScheduledBackupDto,
    @Query() query: AsyncQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ScheduledBackupResponse | JobAccepted> {
    if (query.async) {
      res.status(HttpStatus.ACCEPTED);
      return jobAccepted(await this.scheduled.start(body));
    }
    return this.scheduled.run(body);
  }
}
