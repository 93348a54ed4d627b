import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { UserRepository } from './user.repository';

/** Readiness: the user database answers `select 1` within the timeout. */
@Injectable()
export class UserDatabaseHealthIndicator {
  constructor(
    private readonly users: UserRepository,
    private readonly health: HealthIndicatorService,
  ) {}

  async isHealthy(key = 'userDatabase', timeoutMs = 1000) {
    const indicator = this.health.check(key);
    try {
      await this.users.ping(timeoutMs);
      return indicator.up();
    } catch {
      // No driver message: it may name hosts or users.
      return indicator.down({ message: 'user database did not answer' });
    }
  }
}
