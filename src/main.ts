import 'reflect-metadata';
import { createApp } from './bootstrap';
import { InvalidConfigError, validateEnv } from './config';

async function main(): Promise<void> {
  let env;
  try {
    env = validateEnv(process.env);
  } catch (error) {
    if (error instanceof InvalidConfigError) {
      console.error(`fingerprint-auth: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const app = await createApp(env);
  await app.listen({ port: env.PORT, host: env.HOST });
  console.error(`fingerprint-auth: listening on http://${env.HOST}:${env.PORT}`);
}

void main().catch((error: unknown) => {
  console.error(
    'fingerprint-auth: failed to start:',
    error instanceof Error ? error.message : error,
  );
  process.exit(1);
});
