import {
  Controller,
  Delete,
  Get,
  HttpCode,
  Logger,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { clientAddress } from '../common/auth/client-address';
import { AppConfig } from '../config/app-config';
import { EXPORT_WRITERS, exportFileName, UTF8_BOM } from '../log-storage/export-format';
import { LogStorageService } from '../log-storage/log-storage.service';
import type {
  ArchiveFilter,
  CleanResult,
  CompressResult,
  ConversationResult,
  ExportFormat,
  ReindexResult,
  SearchResult,
  StatsResult,
  VerifyResult,
} from '../log-storage/log-storage.types';
import {
  ArchiveCleanQueryDto,
  ArchiveCompressQueryDto,
  ArchiveConversationParamsDto,
  ArchiveOrganizationQueryDto,
  ArchivePathQueryDto,
  ArchiveQueryDto,
  ArchiveSearchQueryDto,
  ArchiveStatsQueryDto,
  ArchiveVerifyQueryDto,
} from './dto/archive-query.dto';
import {
  ArchiveCleanResponseDto,
  ArchiveCompressResponseDto,
  ArchiveConversationResponseDto,
  ArchiveErrorResponseDto,
  ArchiveExportResponseDto,
  ArchiveReindexResponseDto,
  ArchiveSearchResponseDto,
  ArchiveStatsResponseDto,
  ArchiveSummaryResponseDto,
  ArchiveVerifyResponseDto,
} from './dto/archive-responses.dto';

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const BAD_REQUEST = { type: ArchiveErrorResponseDto, description: 'A parameter is missing or malformed; `message` and `field` name it' };

/** Reading and cleaning the archive: summary, export, retention, search, stats, verify. */
@ApiTags('conversation-logs')
@ApiExtraModels(ArchiveSummaryResponseDto, ArchiveExportResponseDto)
@Controller('api/conversation-logs')
export class ArchiveController {
  private readonly logger = new Logger(ArchiveController.name);

  constructor(
    private readonly storage: LogStorageService,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Summary of the archive, or an export of a range of day folders',
    description:
      'action=summary: file count, bytes and day folders (from the catalog). action=export: the files whose day folder lies ' +
      'in [start_date, end_date], streamed as json (`{"success":true,"conversations":[...],"count":N}`), ndjson or csv; ' +
      'download=true adds Content-Disposition (the file name names the range and filters) and gzips when the client accepts gzip; ' +
      'bom=true (csv only) starts the file with a UTF-8 byte order mark for Excel.',
  })
  @ApiProduces('application/json', 'application/x-ndjson', 'text/csv')
  @ApiOkResponse({
    description: 'The summary (action=summary) or the export (action=export)',
    schema: { oneOf: [{ $ref: getSchemaPath(ArchiveSummaryResponseDto) }, { $ref: getSchemaPath(ArchiveExportResponseDto) }] },
  })
  @ApiBadRequestResponse(BAD_REQUEST)
  async read(@Query() query: ArchiveQueryDto, @Req() req: Request, @Res() res: Response): Promise<void> {
    const { action, format = 'json', download = false, bom = false, ...filter } = query;
    if (action === 'summary') {
      res.json(await this.storage.getSummary(query.organization_id));
      return;
    }
    await this.send(req, res, format, download, bom, definedOnly(filter));
  }

  @Delete()
  @ApiOperation({
    summary: 'Delete day folders older than days_to_keep days (in LOG_TIMEZONE)',
    description: 'Day D is deleted when D < today − days_to_keep; today is never deleted. Empty parents are removed too.',
  })
  @ApiOkResponse({ type: ArchiveCleanResponseDto })
  @ApiBadRequestResponse(BAD_REQUEST)
  clean(@Query() query: ArchiveCleanQueryDto, @Req() req: Request): Promise<CleanResult> {
    return this.storage.cleanOldLogs(
      definedOnly({
        daysToKeep: query.days_to_keep ?? this.config.retentionDays,
        organizationId: query.organization_id,
        dryRun: query.dry_run ?? false,
        actor: { route: 'api' as const, client: clientAddress(req) },
      }),
    );
  }

  @Get('search')
  @ApiOperation({ summary: 'Full-text search over names, queries and answers, newest first, keyset-paged' })
  @ApiOkResponse({ type: ArchiveSearchResponseDto })
  @ApiBadRequestResponse(BAD_REQUEST)
  search(@Query() query: ArchiveSearchQueryDto): Promise<SearchResult> {
    return this.storage.search(definedOnly({ ...query }));
  }

  @Get('stats')
  @ApiOperation({ summary: 'Per day folder and app: conversations, messages, end users, tokens, latency (avg, p95), ratings, errors' })
  @ApiOkResponse({ type: ArchiveStatsResponseDto })
  @ApiBadRequestResponse(BAD_REQUEST)
  stats(@Query() query: ArchiveStatsQueryDto): Promise<StatsResult> {
    return this.storage.stats(definedOnly({ ...query }));
  }

  @Get('conversation')
  @ApiOperation({ summary: 'One archived conversation by its file path (relative to LOGS_DIR)' })
  @ApiOkResponse({ type: ArchiveConversationResponseDto })
  @ApiBadRequestResponse(BAD_REQUEST)
  @ApiNotFoundResponse({ type: ArchiveErrorResponseDto, description: 'No such file in the archive' })
  conversationByPath(@Query() query: ArchivePathQueryDto): Promise<ConversationResult> {
    return this.storage.getConversation({ path: query.path });
  }

  @Get('conversations/:conversation_id')
  @ApiOperation({ summary: 'One archived conversation by its id (the newest copy when several organizations hold it)' })
  @ApiOkResponse({ type: ArchiveConversationResponseDto })
  @ApiBadRequestResponse(BAD_REQUEST)
  @ApiNotFoundResponse({ type: ArchiveErrorResponseDto, description: 'The conversation is not in the archive' })
  conversationById(
    @Param() params: ArchiveConversationParamsDto,
    @Query() query: ArchiveOrganizationQueryDto,
  ): Promise<ConversationResult> {
    return this.storage.getConversation(definedOnly({ conversation_id: params.conversation_id, organization_id: query.organization_id }));
  }

  @Get('verify')
  @ApiOperation({
    summary: 'Check every file against the catalog (size and ETag from the listing; sha256=true downloads and hashes) and look for files it does not know',
  })
  @ApiOkResponse({ type: ArchiveVerifyResponseDto })
  @ApiBadRequestResponse(BAD_REQUEST)
  verify(@Query() query: ArchiveVerifyQueryDto): Promise<VerifyResult> {
    return this.storage.verify(definedOnly({ sha256: query.sha256 }));
  }

  @Post('reindex')
  @HttpCode(200)
  @ApiOperation({ summary: 'Drop the catalog and rebuild it from the files' })
  @ApiOkResponse({ type: ArchiveReindexResponseDto })
  reindex(): Promise<ReindexResult> {
    return this.storage.reindex();
  }

  @Post('compress')
  @HttpCode(200)
  @ApiOperation({ summary: 'Gzip the files of day folders older than after_days days (default COMPRESS_AFTER_DAYS)' })
  @ApiOkResponse({ type: ArchiveCompressResponseDto })
  @ApiBadRequestResponse(BAD_REQUEST)
  compress(@Query() query: ArchiveCompressQueryDto): Promise<CompressResult> {
    return this.storage.compressOldDays(query.after_days ?? this.config.compressAfterDays);
  }

  /**
   * Writes an export to the response (through gzip when asked) with back-pressure; a client that goes away
   * stops the reading of files. The arguments are checked before any header is set.
   */
  private async send(req: Request, res: Response, format: ExportFormat, download: boolean, bom: boolean, filter: ArchiveFilter): Promise<void> {
    const gzip = download && /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
    const zipped = gzip ? createGzip() : null;
    const sink: Writable = zipped ?? res;
    // throws at once on a bad filter or format; the first write comes after the headers below
    const exported = this.storage.exportTo(filter, format, sink);
    exported.catch(() => undefined);
    res.status(200);
    res.setHeader('Content-Type', EXPORT_WRITERS[format].contentType);
    res.setHeader('Cache-Control', 'no-store');
    if (download) {
      res.setHeader('Content-Disposition', `attachment; filename="${exportFileName(format, filter)}"`);
      res.setHeader('Vary', 'Accept-Encoding');
    }
    if (gzip) res.setHeader('Content-Encoding', 'gzip');
    if (bom) sink.write(UTF8_BOM);
    const delivered = zipped ? pipeline(zipped, res) : null;
    delivered?.catch(() => undefined);
    try {
      await exported;
      sink.end();
      await (delivered ?? finished(res));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ERR_STREAM_PREMATURE_CLOSE' && !res.destroyed) this.logger.warn(`Export stopped: ${(error as Error).message}`);
      sink.destroy();
      res.destroy();
    }
  }
}
