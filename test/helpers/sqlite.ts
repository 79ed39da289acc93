/** The SQLite drivers as the tests see them: which this Node has, and hiding them. */
import Module from 'node:module';
import sinon from 'sinon';
import { SQLITE_DRIVER_ENV, type SqliteDriverName } from '../../src/outbox/sqlite-driver';

/** node:sqlite loads in this Node (22.13+; 22.5-22.12 only behind a flag). */
export const NODE_SQLITE_BUILT_IN = ((): boolean => {
  try {
    require('node:sqlite');
    return true;
  } catch {
    return false;
  }
})();

/**
 * Until the returned undo runs, require() of each of `drivers` fails as on a machine without it,
 * in this whole process (the Node-RED nodes too), and the driver is chosen as when none is forced.
 */
export function withoutDrivers(drivers: SqliteDriverName[]): () => void {
  const internals = Module as unknown as { _load(request: string, ...rest: unknown[]): unknown };
  const load = internals._load;
  const stub = sinon.stub(internals, '_load').callsFake(function (this: unknown, request: string, ...rest: unknown[]) {
    if ((drivers as string[]).includes(request)) {
      throw Object.assign(new Error(`Cannot find module '${request}'\nRequire stack:\n- ${__filename}`), { code: 'MODULE_NOT_FOUND' });
    }
    return load.call(this, request, ...rest);
  });
  const forced = process.env[SQLITE_DRIVER_ENV];
  delete process.env[SQLITE_DRIVER_ENV];
  return () => {
    stub.restore();
    if (forced === undefined) delete process.env[SQLITE_DRIVER_ENV];
    else process.env[SQLITE_DRIVER_ENV] = forced;
  };
}
