import { Controller, Get, HttpCode, MessageEvent, Param, Post, Query, Sse } from '@nestjs/common';
import { ApiAcceptedResponse, ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import { map, Observable } from 'rxjs';
import { JobAcceptedDto, JobDto, JobListDto, ListJobsQueryDto } from './dto/job.dto';
import { JobsService } from './jobs.service';
import { ReplicationService } from './replication.service';
import { jobAccepted, type Job, type JobAccepted } from './jobs.types';

const JOB_ID_EXAMPLE = '5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20';
const notFound = { schema: { example: { statusCode: 404, error: 'Not Found', message: `no job has id ${JOB_ID_EXAMPLE}`, field: 'id' } } };

/** Backup jobs: history, state, live progress. */
@ApiTags('jobs')
@Controller('api/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly replication: ReplicationService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Backup jobs, newest first (running ones included); the history survives restarts' })
  @ApiOkResponse({ type: JobListDto })
  async list(@Query() query: ListJobsQueryDto): Promise<{ total: number; jobs: Job[] }> {
    await this.jobs.refresh();
    const all = this.jobs.list().filter((j) => (!query.status || j.status === query.status) && (!query.trigger || j.trigger === query.trigger));
    return { total: all.length, jobs: all.slice(0, query.limit ?? 50) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One job: per-source progress, windows, checkpoints, results and errors' })
  @ApiParam({ name: 'id', example: JOB_ID_EXAMPLE })
  @ApiOkResponse({ type: JobDto })
  @ApiNotFoundResponse(notFound)
  async get(@Param('id') id: string): Promise<Job> {
    await this.jobs.refresh();
    return this.jobs.getOrThrow(id);
  }

  @Post(':id/resume')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Resumes an interrupted job (stopped by shutdown or a crash) as a new job over what it left undone',
    description: 'The old job gets `resumed_by`, the new one `resumes`. 409 when the job is not interrupted, was already resumed, or another process holds the backup lock.',
  })
  @ApiParam({ name: 'id', example: JOB_ID_EXAMPLE })
  @ApiAcceptedResponse({ type: JobAcceptedDto })
  @ApiNotFoundResponse(notFound)
  @ApiConflictResponse({ schema: { example: { statusCode: 409, error: 'Conflict', message: `job ${JOB_ID_EXAMPLE} is succeeded; only an interrupted job can be resumed`, field: 'id' } } })
  async resume(@Param('id') id: string): Promise<JobAccepted> {
    return jobAccepted(await this.jobs.resume(id));
  }

  @Sse(':id/events')
  @ApiOperation({
    summary: 'Server-sent events of a job: `progress` events in order, `source` when a source ends (a replication job: `replication` with its counts so far), then `done` with the final job',
    description: 'A finished job answers one `done` event at once. Each event\'s `id` is its sequence number. With several replicas, a job running on another replica is followed through the database.',
  })
  @ApiParam({ name: 'id', example: JOB_ID_EXAMPLE })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description: 'text/event-stream',
    schema: {
      type: 'string',
      example:
        'id: 3\nevent: progress\ndata: {"type":"progress","seq":3,"job_id":"5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20","app_id":"support-bot","organization_id":"acme","status":"running","progress":{"seen":3,"saved":3,"unchanged":0,"failed":0},"current_window":{"start":"2025-10-14T01:00:00.000Z","end":"2025-10-15T00:00:00.000Z"}}\n\n',
    },
  })
  @ApiNotFoundResponse(notFound)
  async events(@Param('id') id: string): Promise<Observable<MessageEvent>> {
    // a copy under way here has its own events; a job started on another replica is known once the shared history is read again
    const copy = this.replication.events(id);
    if (!copy && !this.jobs.isRunning(id)) await this.jobs.refresh();
    return (copy ?? this.jobs.events(id)).pipe(map((event) => ({ id: String(event.seq), type: event.type, data: event })));
  }
}
