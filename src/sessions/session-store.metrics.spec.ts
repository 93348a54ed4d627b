import { FingerprintAuthMetrics } from '../observability/metrics';
import { SessionRepository, SessionStoreStats } from './session.repository';
import { SessionStoreMetrics } from './session-store.metrics';

/** The samples of the session-store gauges in one scrape: name to value, absent ones left out. */
async function scrape(stats: () => Promise<SessionStoreStats>): Promise<Record<string, number>> {
  const metrics = new FingerprintAuthMetrics();
  new SessionStoreMetrics({ stats } as unknown as SessionRepository, metrics);
  const samples: Record<string, number> = {};
  for (const line of (await metrics.registry.metrics()).split('\n')) {
    const match = /^(fpa_sessions_[a-z_]+|fpa_session_store_up) (\S+)$/.exec(line);
    if (match) samples[match[1]] = Number(match[2]);
  }
  return samples;
}

describe('SessionStoreMetrics', () => {
  it('exposes every figure a store knows', async () => {
    const samples = await scrape(async () => ({
      stored: 5,
      expired: 2,
      capacity: 100,
      estimatedBytes: 4096,
    }));
    expect(samples).toEqual({
      fpa_sessions_live: 3,
      fpa_sessions_expired_unswept: 2,
      fpa_sessions_capacity: 100,
      fpa_sessions_estimated_bytes: 4096,
      fpa_session_store_up: 1,
    });
  });

  it('leaves unknown figures out of the scrape instead of reporting 0 (the SQL store)', async () => {
    const samples = await scrape(async () => ({
      stored: null,
      expired: 4,
      capacity: null,
      estimatedBytes: null,
    }));
    expect(samples).toEqual({ fpa_sessions_expired_unswept: 4, fpa_session_store_up: 1 });
  });

  it('reports the store down and no figure when stats() fails, and asks the store once per scrape', async () => {
    const stats = jest.fn(() => Promise.reject(new Error('no answer')));
    expect(await scrape(stats)).toEqual({ fpa_session_store_up: 0 });
    expect(stats).toHaveBeenCalledTimes(1);
  });
});
