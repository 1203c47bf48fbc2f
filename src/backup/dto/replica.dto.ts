import { ApiProperty } from '@nestjs/swagger';

export class ReplicaDto {
  @ApiProperty({ example: 'vault-7d9f:4127', description: 'host name and process id' }) replica: string;
  @ApiProperty({ example: 'vault-7d9f' }) hostname: string;
  @ApiProperty({ example: 4127 }) pid: number;
  @ApiProperty({ example: '1.4.0' }) version: string;
  @ApiProperty({ example: '2025-10-15T01:58:02.000Z' }) started_at: string;
  @ApiProperty({ example: '2025-10-15T02:00:00.000Z', description: 'the last heartbeat' }) heartbeat_at: string;
  @ApiProperty({ example: true, description: 'scheduled runs happen on this replica' }) leader: boolean;
  @ApiProperty({ example: false, description: 'the replica that answered this request' }) self: boolean;
}

export class ReplicaListDto {
  @ApiProperty({ example: 'vault-7d9f:4127', nullable: true, type: String, description: 'the live replica that leads, if any' }) leader: string | null;
  @ApiProperty({ type: [ReplicaDto] }) replicas: ReplicaDto[];
}
