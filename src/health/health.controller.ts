import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { APP_VERSION } from '../common/app-version';
import { LivenessResponseDto, ReadinessResponseDto } from './dto/health-responses.dto';
import { ReadinessService } from './readiness.service';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly readiness: ReadinessService) {}

  @Get()
  @ApiOperation({ summary: 'Liveness check; needs no token and touches nothing' })
  @ApiOkResponse({ type: LivenessResponseDto })
  health(): LivenessResponseDto {
    return { status: 'ok', version: APP_VERSION };
  }

  @Get('ready')
  @ApiOperation({
    summary: 'Readiness: catalog, LOGS_DIR writable, free disk above MIN_FREE_DISK_MB, no source stale for ALERT_STALE_HOURS',
    description: 'Needs no token. Names stale sources by `<organization_id>/<app_id>` only.',
  })
  @ApiOkResponse({ type: ReadinessResponseDto, description: 'Every check is up' })
  @ApiServiceUnavailableResponse({ type: ReadinessResponseDto, description: 'At least one check is down' })
  async ready(@Res({ passthrough: true }) res: Response): Promise<ReadinessResponseDto> {
    const { ok, body } = await this.readiness.check();
    res.status(ok ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return body;
  }
}
