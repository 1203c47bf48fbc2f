import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { SourceListDto, SourceTestQueryDto, SourceTestResultDto } from './dto/source.dto';
import { SourcesService, SourceTestResult, SourceView } from './sources.service';

/** The configured Dify sources; never shows a key, password or e-mail. */
@ApiTags('sources')
@Controller('api/sources')
export class SourcesController {
  constructor(private readonly sources: SourcesService) {}

  @Get()
  @ApiOperation({ summary: 'Each configured source: access mode, hosts, coverage, checkpoint, last run and outcome, next scheduled run' })
  @ApiOkResponse({ type: SourceListDto })
  async list(): Promise<{ sources: SourceView[] }> {
    await this.sources.refresh();
    return { sources: this.sources.list() };
  }

  @Post(':app_id/test')
  @HttpCode(200)
  @ApiOperation({ summary: "Checks a source's credentials with a side-effect-free call; `ok: false` says what Dify answered" })
  @ApiParam({ name: 'app_id', example: 'support-bot' })
  @ApiOkResponse({ type: SourceTestResultDto })
  @ApiNotFoundResponse({ schema: { example: { statusCode: 404, error: 'Not Found', message: 'no configured source has app_id support-bot', field: 'app_id' } } })
  test(@Param('app_id') appId: string, @Query() query: SourceTestQueryDto): Promise<SourceTestResult> {
    return this.sources.test(appId, query.organization_id);
  }
}
