import { ApiProperty } from '@nestjs/swagger';

export class TaskInfoDto {
  @ApiProperty({ enum: ['backup', 'retention', 'compression', 'replication'], example: 'backup' }) name: string;
  @ApiProperty({ example: '0 2 * * *' }) expression: string;
  @ApiProperty({ example: 'UTC' }) timezone: string;
  @ApiProperty({ example: '2025-10-16T02:00:00.000Z', nullable: true, type: String }) next_run: string | null;
  @ApiProperty({ example: false }) running: boolean;
  @ApiProperty({ example: '2025-10-15T02:00:00.000Z', nullable: true, type: String }) last_started_at: string | null;
  @ApiProperty({ example: '2025-10-15T02:01:10.000Z', nullable: true, type: String }) last_finished_at: string | null;
  @ApiProperty({ example: 'job 5f0e4c1a-8a43-4d1e-9a55-3c7b2f9d1e20 succeeded', nullable: true, type: String }) last_outcome: string | null;
}

export class ScheduleDto {
  @ApiProperty({ example: true, description: 'ENABLE_AUTO_LOGGING' }) enabled: boolean;
  @ApiProperty({ type: [TaskInfoDto] }) tasks: TaskInfoDto[];
}
