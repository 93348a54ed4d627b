import 'reflect-metadata';
import { createApp } from './bootstrap';
import { InvalidConfigError, validateEnv } from './config';

async function main(): Promise<void> {
  const env = validateEnv(process.env);
  // Building the app may reject configuration too (a GEOIP_DB_PATH that is no database).
  const app = await createApp(env);
  await app.listen({ port: env.PORT, host: env.HOST });
  console.error(`fingerprint-auth: listening on http://${env.HOST}:${env.PORT}`);
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
