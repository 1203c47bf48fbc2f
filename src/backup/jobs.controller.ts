import { Controller, Get, MessageEvent, Param, Query, Sse } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import { map, Observable } from 'rxjs';
import { JobDto, JobListDto, ListJobsQueryDto } from './dto/job.dto';
import { JobsService } from './jobs.service';
import type { Job } from './jobs.types';

const JOB_ID_EXAMPLE = '5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20';
const notFound = { schema: { example: { statusCode: 404, error: 'Not Found', message: `no job has id ${JOB_ID_EXAMPLE}`, field: 'id' } } };

/** Backup jobs: history, state, live progress. */
@ApiTags('jobs')
@Controller('api/jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  @Get()
  @ApiOperation({ summary: 'Backup jobs, newest first (running ones included); the history survives restarts' })
  @ApiOkResponse({ type: JobListDto })
  list(@Query() query: ListJobsQueryDto): { total: number; jobs: Job[] } {
    const all = this.jobs.list().filter((j) => (!query.status || j.status === query.status) && (!query.trigger || j.trigger === query.trigger));
    return { total: all.length, jobs: all.slice(0, query.limit ?? 50) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One job: per-source progress, windows, checkpoints, results and errors' })
  @ApiParam({ name: 'id', example: JOB_ID_EXAMPLE })
  @ApiOkResponse({ type: JobDto })
  @ApiNotFoundResponse(notFound)
  get(@Param('id') id: string): Job {
    return this.jobs.getOrThrow(id);
  }

  @Sse(':id/events')
  @ApiOperation({
    summary: 'Server-sent events of a job: `progress` events in order, `source` when a source ends, then `done` with the final job',
    description: 'A finished job answers one `done` event at once. Each event\'s `id` is its sequence number.',
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
  events(@Param('id') id: string): Observable<MessageEvent> {
    return this.jobs.events(id).pipe(map((event) => ({ id: String(event.seq), type: event.type, data: event })));
  }
}
