import { Body, Controller, HttpCode, HttpStatus, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBadRequestResponse, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
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
