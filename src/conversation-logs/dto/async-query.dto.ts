import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';

export class AsyncQueryDto {
  @ApiPropertyOptional({ description: 'true: answer 202 with the job id at once; follow it at /api/jobs/{id}/events', example: false })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean({ message: 'async must be true or false' })
  async?: boolean;
}
