export * from './env.schema';
export * from './config.module';
export * from './data-files';
export * from './duration';
export * from './jwt-secrets';
