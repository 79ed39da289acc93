export * as protocol from './protocol';
export * from './server';
export * as sim from './sim';
export * from './outbox';
