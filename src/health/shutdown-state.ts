import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';

/** Flips readiness to down as soon as shutdown begins, so load balancers stop sending traffic. */
@Injectable()
export class ShutdownState implements BeforeApplicationShutdown {
  private shuttingDown = false;

  constructor(private readonly health: HealthIndicatorService) {}

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  begin(): void {
    this.shuttingDown = true;
  }

  beforeApplicationShutdown(): void {
    this.begin();
  }

  indicator() {
    const indicator = this.health.check('lifecycle');
    return this.shuttingDown ? indicator.down({ message: 'shutting down' }) : indicator.up();
  }
}
