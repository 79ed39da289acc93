/**
 * The connection to a shared PostgreSQL store: a `pg` pool over a connection string, or over the
 * standard PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE variables when it is empty (as the
 * driver reads them). Every connection works in the store's own schema (search_path), and reads
 * bigint columns (ms epochs, sequence numbers) as numbers: they stay far below 2^53.
 */
import type pg from 'pg';
import { optionalModule } from '../../util/optional-module';

type PgModule = typeof pg;

/** The `pg` driver: an optional dependency that only goip-config `database` `postgres` loads. */
export const pgDriver = optionalModule<PgModule>('pg', 'database postgres');

export interface PgStoreOptions {
  /** postgres://user:password@host:port/database; empty or absent = the PG* variables. */
  connectionString?: string;
  /** The schema holding the store's tables (default goip). */
  schema?: string;
  /** Connections at most (default 8: the inbox reads the next commit while the last one writes, beside the send engine). */
  maxConnections?: number;
  /**
   * An idle connection failed (the server restarted or went away). The pool drops it and connects
   * anew on the next call, which is where the store's users see the failure.
   */
  onIdleError?: (err: Error) => void;
}

export const DEFAULT_SCHEMA = 'goip';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const INT8 = 20;

/** A schema name used as is in SQL: lower case letters, digits and underscores. */
export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`postgres store: schema "${schema}" is not a plain lower-case SQL name (a-z, 0-9, _)`);
  return schema;
}

function bigintsAsNumbers(driver: PgModule): pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === INT8 ? (value: string) => Number(value) : driver.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
  };
}

export function openPool(options: PgStoreOptions): pg.Pool {
  const schema = checkSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const connectionString = options.connectionString === '' ? undefined : options.connectionString;
  const driver = pgDriver();
  const pool = new driver.Pool({
    connectionString,
    max: options.maxConnections ?? 8,
    options: `-c search_path=${schema}`,
    types: bigintsAsNumbers(driver),
  });
  // Unheard, the pool's 'error' would end the process.
  pool.on('error', (err) => options.onIdleError?.(err));
  return pool;
}

/** Runs `work` in one transaction on one connection of the pool: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection that failed mid-transaction is not handed out again.
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackFailed: Error) => {
      broken = rollbackFailed;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}
