export { type BulkProgress, type BulkSenderEvents } from './bulk-progress';
export { BulkSender } from './bulk-sender';
export { type BulkOptions, DEFAULT_BULK_OPTIONS, DEVICE_MAX_SESSIONS, resolveBulkOptions } from './options';
export { FAILURE } from './policy';
export { DEFAULT_FLEET_HOOKS, type FleetHooks, type LineHealthEvent } from './fleet-hooks';
export { LINE_POLICIES, type LinePolicy } from './line-order';
