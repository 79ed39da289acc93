export * as protocol from './protocol';
export * from './link';
export * from './outbound';
export * from './gateway';
export * from './outbox';
export { checkRule, composeBatch, InputError, type ComposedBatch, type NumberFormat, type NumberRule, type SendRequest } from './send/compose';
export * as sim from './sim';
