export * from './types';
export * from './sqlite-outbox';
export { type SqliteDriverName, SqliteUnavailableError } from './sqlite-driver';
