import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from './support/app';
import { startService } from './support/process';
import { TEST_SECRET } from './support/app';

/** METRICS_PORT: /metrics on a listener of its own. Ports 7845 (service) and 7846 (metrics). */
describe('metrics on their own port (e2e)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fpa-metrics-port-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves /metrics on METRICS_PORT only, and closes both listeners on SIGTERM', async () => {
    const service = await startService(
      {
        DATABASE_URL: `sqlite:${join(dir, 'users.db')}`,
        COOKIE_SECURE: 'false',
        JWT_SECRET: TEST_SECRET,
        LOG_LEVEL: 'info',
        METRICS_PORT: '7846',
      },
      7845,
    );
    const metricsUrl = 'http://127.0.0.1:7846';
    try {
      const main = await fetch(`${service.url}/metrics`);
      expect(main.status).toBe(404);
      expect(await main.json()).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: 'Cannot GET /metrics',
      });

      // A request on the main port first, so its duration is in the scrape.
      expect((await fetch(`${service.url}/health/live`)).status).toBe(200);
      const scrape = await fetch(`${metricsUrl}/metrics`);
      expect(scrape.status).toBe(200);
      expect(scrape.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(scrape.headers.get('cache-control')).toBe('no-store');
      const text = await scrape.text();
      expect(text).toContain('# TYPE fpa_http_request_duration_seconds histogram');
      expect(text).toContain('route="/health/live"');
      expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');

      // Nothing else is served there.
      for (const path of ['/health/live', '/auth/me', `/${'m'.repeat(9000)}`]) {
        const other = await fetch(`${metricsUrl}${path}`);
        expect(other.status).toBe(404);
        expect((await other.text()).length).toBeLessThan(200);
      }

      // Keep-alive connections are open on both listeners (fetch keeps them): neither holds the
      // shutdown, and both ports are closed afterwards.
      expect(await service.stop('SIGTERM')).toBe(0);
      const output = service.output();
      expect(output).toContain('"event":"metrics_listening"');
      expect(output).toContain('"event":"shutdown_complete"');
      expect(output).not.toContain('shutdown_forced');
      await expect(fetch(`${metricsUrl}/metrics`)).rejects.toThrow();
      await expect(fetch(`${service.url}/health/live`)).rejects.toThrow();
    } finally {
      await service.stop('SIGKILL');
    }
  });

  it('keeps /metrics on the main port when METRICS_PORT is unset, and off it when set', async () => {
    const usual = await startApp();
    const moved = await startApp({ METRICS_PORT: '7846' });
    try {
      expect((await usual.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
      // Built but not listening (main.ts starts the metrics listener): the main port has no /metrics.
      expect((await moved.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
    } finally {
      await usual.close();
      await moved.close();
    }
  });
});
