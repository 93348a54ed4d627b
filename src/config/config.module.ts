import { DynamicModule } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Env } from './env.schema';

/**
 * Registers the already validated environment (see `validateEnv`) as the global ConfigService.
 * Nothing else reads process.env: `ConfigService<Env, true>` with `{ infer: true }` gives typed values.
 */
export function configModule(env: Env): Promise<DynamicModule> {
  return ConfigModule.forRoot({
    isGlobal: true,
    ignoreEnvFile: true,
    skipProcessEnv: true,
    load: [() => env],
  });
}
