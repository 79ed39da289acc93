export * from './types';
export { SqliteOutbox, type SqliteOutboxOptions } from './sqlite-outbox';
export { type SqliteDriverName, SqliteUnavailableError } from './sqlite-driver';
export { type HeldPart, type HeldPartStore, SqliteHeldParts } from './held-parts';
export { type ResultCursor, type ResultLog, type ResultPage, SqliteResultLog } from './result-log';
export { type InboxFilter, type InboxKind, type InboxRecord, type SentTo, SqliteInboxLog, type UntakenMessage } from './inbox-log';
export type { InboxPage, InboxQuery, InboxRowOut } from './inbox-query';
