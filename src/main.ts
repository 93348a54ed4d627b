import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp, handleShutdownSignals } from './http/bootstrap';
import { InvalidConfigError, validateEnv } from './config';
import { createGeoLocator } from './geoip/geo-locator.factory';
import { MetricsListener } from './observability/metrics.listener';
import { resolveJwtSecrets } from './options/jwt-secrets';

async function main(): Promise<void> {
  const config = validateEnv(process.env);
  // Files the configuration names are read here, before the app is built, so a bad one (a
  // JWT_SECRET_FILE that cannot be read, a GEOIP_DB_PATH that is no database) is reported by its
  // variable, without a stack trace.
  const secrets = resolveJwtSecrets(config, 'env');
  const geoLocator = createGeoLocator(config, 'env');
  const app = await createApp(config, { secrets, geoLocator });
  handleShutdownSignals(app, config);
  await app.listen({ port: config.port, host: config.host });
  // METRICS_PORT set: /metrics on its own listener (closed with the app at shutdown).
  await app.get(MetricsListener).listen();
  new Logger('Bootstrap').log({
    event: 'listening',
    url: `http://${config.host}:${config.port}`,
  });
}

void main().catch((error: unknown) => {
  if (error instanceof InvalidConfigError) {
    console.error(`fingerprint-auth: ${error.message}`);
  } else {
    console.error(
      'fingerprint-auth: failed to start:',
      error instanceof Error ? error.message : error,
    );
  }
  process.exit(1);
});
