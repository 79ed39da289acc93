export * from './goip-server';
export * from './lines';
export * from './dedup';
export * from './bulk';
export * from './commands';
