import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp, handleShutdownSignals } from './bootstrap';
import { InvalidConfigError, validateEnv } from './config';
import { MetricsListener } from './observability/metrics.listener';

async function main(): Promise<void> {
  const env = validateEnv(process.env);
  // Building the app may reject configuration too (a GEOIP_DB_PATH that is no database).
  const app = await createApp(env);
  handleShutdownSignals(app, env);
  await app.listen({ port: env.PORT, host: env.HOST });
  // METRICS_PORT set: /metrics on its own listener (closed with the app at shutdown).
  await app.get(MetricsListener).listen();
  new Logger('Bootstrap').log({ event: 'listening', url: `http://${env.HOST}:${env.PORT}` });
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
