export * from './types';
export { SqliteOutbox, type SqliteOutboxOptions } from './sqlite-outbox';
export { type SqliteDriverName, SqliteUnavailableError } from './sqlite-driver';
