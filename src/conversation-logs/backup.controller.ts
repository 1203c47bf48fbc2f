import { Body, Controller, HttpStatus, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadGatewayResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { JobAcceptedDto } from '../backup/dto/job.dto';
import type { JobAccepted } from '../backup/jobs.types';
import { ConversationLogService } from './conversation-log.service';
import { AsyncQueryDto } from './dto/async-query.dto';
import { BackupResultDto } from '../backup/dto/backup-result.dto';
import { SaveConversationLogsDto } from './dto/save-conversation-logs.dto';

/** Copying conversations out of Dify into the archive. */
@ApiTags('conversation-logs')
@ApiBearerAuth()
@Controller('api/conversation-logs')
export class BackupController {
  constructor(private readonly logs: ConversationLogService) {}

  @Post()
  @ApiOperation({
    summary: 'Back up the conversations of one Dify app, with all their messages',
    description:
      'Send the connection fields of one access mode (service: dify_api_url + api_key [+ users]; console admin key: ' +
      'console_api_url + admin_api_key + workspace_id; console login: console_api_url + email + password), or only ' +
      '`app_id` to use a configured source. `filters` limit the run to conversations active (created or updated) in a ' +
      'window. Every backup is recorded as a job (GET /api/jobs).',
  })
  @ApiOkResponse({ type: BackupResultDto })
  @ApiAcceptedResponse({ type: JobAcceptedDto, description: 'with ?async=true' })
  @ApiBadRequestResponse({
    description: 'Invalid input, or credentials refused by Dify; `message` names the field',
    schema: {
      example: {
        statusCode: 400,
        error: 'Bad Request',
        message: ['organization_id must be 1 to 64 characters of letters, digits, ".", "_" or "-", and not "." or ".."'],
      },
    },
  })
  @ApiNotFoundResponse({
    description: 'Only `app_id` was sent, and `organization_id` names an organization no configured source of that app is in',
    schema: {
      example: {
        statusCode: 404,
        error: 'Not Found',
        message: 'no configured source has app_id support-bot in organization_id gamma (it is configured under: acme)',
        field: 'organization_id',
      },
    },
  })
  @ApiBadGatewayResponse({ description: 'Dify unreachable, or answering errors after every retry' })
  async save(
    @Body() body: SaveConversationLogsDto,
    @Query() query: AsyncQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<BackupResultDto | JobAccepted> {
    if (query.async) {
      res.status(HttpStatus.ACCEPTED);
      return this.logs.start(body);
    }
    res.status(HttpStatus.OK);
    return this.logs.save(body);
  }
}
