import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ReplicaListDto } from './dto/replica.dto';
import { ReplicaInfo, REPLICAS, Replicas } from './replicas';

/** The replicas of the service sharing one database, and which one runs the schedule. */
@ApiTags('replicas')
@Controller('api/replicas')
export class ReplicasController {
  constructor(@Inject(REPLICAS) private readonly replicas: Replicas) {}

  @Get()
  @ApiOperation({
    summary: 'The live replicas (heartbeat within REPLICA_TIMEOUT_SECONDS), their version, and the leader that runs the schedule',
    description: 'Without DATABASE_URL the answering process is the only replica and leads.',
  })
  @ApiOkResponse({ type: ReplicaListDto })
  async list(): Promise<{ leader: string | null; replicas: ReplicaInfo[] }> {
    const replicas = await this.replicas.list();
    return { leader: replicas.find((r) => r.leader)?.replica ?? null, replicas };
  }
}
