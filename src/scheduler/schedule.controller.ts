import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AppConfig } from '../config/app-config';
import { ScheduleDto } from './dto/schedule.dto';
import { ScheduledTasksService, TaskInfo } from './scheduled-tasks.service';

@ApiTags('jobs')
@Controller('api/schedule')
export class ScheduleController {
  constructor(
    private readonly config: AppConfig,
    private readonly tasks: ScheduledTasksService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The registered cron tasks (backup, retention, compression, replication) and their next run' })
  @ApiOkResponse({ type: ScheduleDto })
  get(): { enabled: boolean; tasks: TaskInfo[] } {
    return { enabled: this.config.autoLogging, tasks: this.tasks.describe() };
  }
}
