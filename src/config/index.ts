export * from './env.schema';
export { InvalidConfigError } from '../options/settings';
