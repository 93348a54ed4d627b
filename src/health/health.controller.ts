import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, MemoryHealthIndicator } from '@nestjs/terminus';
import { Public } from '../auth/public.decorator';
import { ServiceConfig } from '../config';
import { SessionStoreHealthIndicator } from '../sessions/session-store.health';
import { UserDatabaseHealthIndicator } from '../users/user-database.health';
import { ShutdownState } from './shutdown-state';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  private readonly heapLimitBytes: number;

  constructor(
    private readonly health: HealthCheckService,
    private readonly sessionStore: SessionStoreHealthIndicator,
    private readonly userDatabase: UserDatabaseHealthIndicator,
    private readonly memory: MemoryHealthIndicator,
    private readonly shutdown: ShutdownState,
    config: ServiceConfig,
  ) {
    this.heapLimitBytes = config.healthHeapLimitMb * 1024 * 1024;
  }

  /** Liveness: the process answers. Checks no dependency, so a database outage never restarts pods. */
  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers (no dependency checked)' })
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Readiness: session store (room and reachability), user database, heap; 503 while shutting down. */
  @Get('ready')
  @ApiOperation({
    summary: 'Readiness: session store, user database, heap; 503 while shutting down',
  })
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.shutdown.indicator(),
      () => this.sessionStore.isHealthy(),
      () => this.userDatabase.isHealthy(),
      () => this.memory.checkHeap('heap', this.heapLimitBytes),
    ]);
  }
}
