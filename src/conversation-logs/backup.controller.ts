import { Controller } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';

/** Copying conversations out of Dify into the archive. */
@ApiTags('conversation-logs')
@Controller('api/conversation-logs')
export class BackupController {}
