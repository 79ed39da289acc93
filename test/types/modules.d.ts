declare module 'node-red-node-test-helper';
declare module '@node-red/util';
