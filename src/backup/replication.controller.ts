import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiConflictResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { JobAcceptedDto } from './dto/job.dto';
import { ReplicationStatusDto } from './dto/replication.dto';
import { jobAccepted, type JobAccepted } from './jobs.types';
import { ReplicationService, type ReplicationStatus } from './replication.service';

/** The off-site copy of the archive: its status, and a copy started on demand. */
@ApiTags('replication')
@Controller('api/replication')
export class ReplicationController {
  constructor(private readonly replication: ReplicationService) {}

  @Get()
  @ApiOperation({
    summary: 'The off-site copy: its bucket and schedule, the last successful copy, the last run, and how many files are not copied yet',
    description: 'Read from the job history (files in LOGS_DIR/state, or PostgreSQL with DATABASE_URL), so it survives restarts; the bucket is not listed.',
  })
  @ApiOkResponse({ type: ReplicationStatusDto })
  status(): Promise<ReplicationStatus> {
    return this.replication.status();
  }

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Copies the archive\'s new and changed files to the replica bucket now, as a job (kind `replication`)',
    description: 'Each written file is read back and compared; nothing is deleted in the bucket unless REPLICATE_DELETE=true, and then only after the whole archive was walked, never when the archive is empty, nor more than half of the bucket (the copy fails naming why, nothing deleted). 409 when no replica bucket is configured, a copy is under way (here or in another process on this archive: one at a time, and the refused copy is recorded as skipped), or a backup is running; `job_id` names the running job.',
  })
  @ApiAcceptedResponse({ type: JobAcceptedDto })
  @ApiConflictResponse({ schema: { example: { statusCode: 409, error: 'Conflict', message: 'replication job 5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20 (a CLI copy, pid 4242 on vault-1, since 2025-10-15T04:00:00.100Z) is copying this archive; try again when it has finished', field: 'replication', job_id: '5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20' } } })
  async start(): Promise<JobAccepted> {
    return jobAccepted((await this.replication.start({ trigger: 'api' })).job);
  }
}
