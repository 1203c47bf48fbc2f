import { Controller } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';

/** Reading and cleaning the archive: summary, export, retention, search, stats, verify. */
@ApiTags('conversation-logs')
@Controller('api/conversation-logs')
export class ArchiveController {}
