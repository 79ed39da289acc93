export * from './goip-server';
export { BindError, describeBindError, isTransientBindError } from './udp-endpoint';
export { emitIsolated } from './fan-out';
export * from './lines';
export * from './dedup';
export * from './commands';
