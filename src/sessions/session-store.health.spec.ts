import { HealthIndicatorService } from '@nestjs/terminus';
import { SessionRepository, SessionStoreStats } from './session.repository';
import { SessionStoreHealthIndicator } from './session-store.health';

const indicator = (stats: () => Promise<SessionStoreStats>) =>
  new SessionStoreHealthIndicator(
    { stats } as unknown as SessionRepository,
    new HealthIndicatorService(),
  );

const figures = { stored: 3, expired: 1, capacity: 10, estimatedBytes: 512 };

describe('SessionStoreHealthIndicator', () => {
  afterEach(() => jest.useRealTimers());

  it('is up with the figures when the store answers and has room', async () => {
    await expect(indicator(async () => figures).isHealthy()).resolves.toEqual({
      sessionStore: { status: 'up', live: 2, expired: 1, capacity: 10, estimatedBytes: 512 },
    });
  });

  it('is down at capacity', async () => {
    const full = indicator(async () => ({ ...figures, stored: 10 }));
    await expect(full.isHealthy()).resolves.toMatchObject({
      sessionStore: { status: 'down', message: 'session store is at capacity' },
    });
  });

  it('is down, saying nothing of the driver, when the store fails', async () => {
    const failing = indicator(() =>
      Promise.reject(new Error('connect ECONNREFUSED 10.0.0.5:5432')),
    );
    await expect(failing.isHealthy()).resolves.toEqual({
      sessionStore: { status: 'down', message: 'session store did not answer' },
    });
  });

  it('is down once the deadline passes while the store stays silent, and ignores a late answer', async () => {
    jest.useFakeTimers();
    let answer: (stats: SessionStoreStats) => void = () => undefined;
    const silent = indicator(() => new Promise((resolve) => (answer = resolve)));
    const pending = silent.isHealthy('sessionStore', 1000);
    await jest.advanceTimersByTimeAsync(999);
    let settled = false;
    void pending.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await expect(pending).resolves.toEqual({
      sessionStore: { status: 'down', message: 'session store did not answer' },
    });
    answer(figures);
  });
});
