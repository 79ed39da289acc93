export * from './fields';
export * from './reports';
export * from './commands';
export * from './device';
export * from './server';
export * from './bulk';
export * from './bulk-format';
export * from './command-replies';
