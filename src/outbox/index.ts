export * from './types';
export { SqliteOutbox, type SqliteOutboxOptions } from './sqlite-outbox';
export { type SqliteDriverName, SqliteUnavailableError } from './sqlite-driver';
export { SqliteHeldParts } from './held-parts';
export { SqliteResultLog } from './result-log';
export { SqliteInboxLog } from './inbox-log';
export { sendPortOf } from './send-port';
