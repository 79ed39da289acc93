export * from './goip-server';
export * from './lines';
export * from './dedup';
