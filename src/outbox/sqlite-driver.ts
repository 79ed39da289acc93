/**
 * The SQLite driver under the outbox, chosen at open: better-sqlite3 when it loads (an optional
 * dependency; its 12.x builds need Node 20+), else Node's built-in node:sqlite (unflagged from
 * Node 22.13). Both are synchronous. The outbox sees one small shape, better-sqlite3's; node:sqlite
 * is adapted to it and behaves the same where the outbox relies on it: `@name` parameters from a
 * plain object (a missing one throws, an unknown key is ignored), `?` parameters, undefined bound
 * as NULL, nested transactions, pragmas, rows as plain objects.
 */

export type SqliteDriverName = 'better-sqlite3' | 'node:sqlite';
/** In the order they are tried. */
const SQLITE_DRIVERS: readonly SqliteDriverName[] = ['better-sqlite3', 'node:sqlite'];
/** Names the one driver to use (the tests run the outbox on each); unset = the first that loads. */
export const SQLITE_DRIVER_ENV = 'GOIP_SQLITE_DRIVER';

export interface Statement<Row> {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): Row | undefined;
  all(...params: unknown[]): Row[];
}
export interface Connection {
  prepare<Row = unknown>(sql: string): Statement<Row>;
  exec(sql: string): void;
  pragma(source: string, options: { simple: true }): unknown;
  /** Wraps `fn` so that each call runs in a transaction, or in a savepoint inside one. */
  transaction<F extends (...args: never[]) => unknown>(fn: F): F;
  close(): void;
}

/** Neither driver loads here: the durable send queue is unavailable (receiving does not need it). */
export class SqliteUnavailableError extends Error {
  override readonly name = 'SqliteUnavailableError';
  /** Why each driver did not load, e.g. `better-sqlite3: Cannot find module 'better-sqlite3'`. */
  readonly reasons: string[];

  constructor(reasons: string[]) {
    super('the durable send queue needs better-sqlite3 (installed with this package on Node 20+) or Node.js 22.13+ (built-in node:sqlite)');
    this.reasons = reasons;
  }
}

type Open = (file: string) => Connection;

/** Each loader throws when its driver cannot work in this process. */
const LOADERS: Record<SqliteDriverName, () => Open> = {
  'better-sqlite3': () => {
    const Database = require('better-sqlite3') as new (filename: string) => Connection;
    // The native addon loads on the first open: a missing build or one for another Node ABI
    // fails here, not at require.
    new Database(':memory:').close();
    return (file) => new Database(file);
  },
  'node:sqlite': () => {
    const { DatabaseSync } = require('node:sqlite') as { DatabaseSync: new (filename: string) => NodeDatabase };
    return (file) => new NodeSqliteConnection(new DatabaseSync(file));
  },
};

/** Opens `file` with the driver SQLITE_DRIVER_ENV names, else with the first that loads. */
export function openConnection(file: string): { driver: SqliteDriverName; db: Connection } {
  const forced = process.env[SQLITE_DRIVER_ENV] || undefined;
  if (forced !== undefined && !(SQLITE_DRIVERS as readonly string[]).includes(forced)) {
    throw new Error(`${SQLITE_DRIVER_ENV}=${forced}: expected ${SQLITE_DRIVERS.join(' or ')}`);
  }
  const reasons: string[] = [];
  for (const driver of forced === undefined ? SQLITE_DRIVERS : [forced as SqliteDriverName]) {
    let open: Open;
    try {
      open = LOADERS[driver]();
    } catch (err) {
      reasons.push(`${driver}: ${oneLine(err)}`);
      continue;
    }
    return { driver, db: open(file) };
  }
  if (forced !== undefined) throw new Error(`${SQLITE_DRIVER_ENV}=${forced} does not load (${reasons[0]})`);
  throw new SqliteUnavailableError(reasons);
}

/** The message on one line, without the require stack of a missing module. */
function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\nRequire stack:')[0].replace(/\s+/g, ' ').trim();
}

/** The part of node:sqlite used here (@types/node 20 does not describe it). */
interface NodeStatement {
  run(...params: unknown[]): { changes: number | bigint };
  get(...params: unknown[]): Record<string, unknown> | undefined;
  all(...params: unknown[]): Array<Record<string, unknown>>;
}
interface NodeDatabase {
  prepare(sql: string): NodeStatement;
  exec(sql: string): void;
  close(): void;
}

/** better-sqlite3's default; node:sqlite's is 0 (fail at once on a locked file). */
const BUSY_TIMEOUT_MS = 5000;
const SAVEPOINT = 'outbox_nested';

class NodeSqliteConnection implements Connection {
  /** Open transactions: 0 = none, 1 = BEGIN, more = savepoints inside it. */
  private depth = 0;
  /** A transaction opened by `exec('BEGIN')` (better-sqlite3 tells its own by db.inTransaction). */
  private begun = false;

  constructor(private readonly db: NodeDatabase) {
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }

  prepare<Row = unknown>(sql: string): Statement<Row> {
    return new NodeSqliteStatement<Row>(this.db.prepare(sql), sql);
  }

  exec(sql: string): void {
    this.db.exec(sql);
    if (/^\s*BEGIN\b/i.test(sql)) this.begun = true;
    else if (/^\s*(COMMIT|END|ROLLBACK)\s*;?\s*$/i.test(sql)) this.begun = false;
  }

  pragma(source: string): unknown {
    const row = this.db.prepare(`PRAGMA ${source}`).get();
    return row === undefined ? undefined : Object.values(row)[0];
  }

  transaction<F extends (...args: never[]) => unknown>(fn: F): F {
    return ((...args: Parameters<F>) => this.inTransaction(() => fn(...args))) as F;
  }

  close(): void {
    this.db.close();
  }

  private inTransaction<T>(work: () => T): T {
    const nested = this.depth > 0 || this.begun;
    this.db.exec(nested ? `SAVEPOINT ${SAVEPOINT}` : 'BEGIN');
    this.depth++;
    try {
      const result = work();
      this.db.exec(nested ? `RELEASE ${SAVEPOINT}` : 'COMMIT');
      return result;
    } catch (err) {
      try {
        this.db.exec(nested ? `ROLLBACK TO ${SAVEPOINT}; RELEASE ${SAVEPOINT}` : 'ROLLBACK');
      } catch {
        // SQLite rolled the whole transaction back itself (e.g. on SQLITE_FULL): nothing is left
        // to undo, and `err` says why.
      }
      throw err;
    } finally {
      this.depth--;
    }
  }
}

class NodeSqliteStatement<Row> implements Statement<Row> {
  private readonly names: string[];
  private readonly positional: number;

  constructor(
    private readonly statement: NodeStatement,
    sql: string,
  ) {
    ({ names: this.names, positional: this.positional } = parameters(sql));
  }

  run(...params: unknown[]): { changes: number } {
    return { changes: Number(this.statement.run(...this.bind(params)).changes) };
  }

  get(...params: unknown[]): Row | undefined {
    const row = this.statement.get(...this.bind(params));
    return row === undefined ? undefined : ({ ...row } as Row);
  }

  all(...params: unknown[]): Row[] {
    return this.statement.all(...this.bind(params)).map((row) => ({ ...row }) as Row);
  }

  /**
   * better-sqlite3's binding rules: node:sqlite would bind a missing parameter as NULL, throw on
   * an unknown key (before Node 22.15 it cannot be told otherwise) and on undefined.
   */
  private bind(params: unknown[]): unknown[] {
    if (this.names.length > 0) {
      const values = params[0] as Record<string, unknown>;
      const bound: Record<string, unknown> = {};
      for (const name of this.names) {
        if (!(name in values)) throw new RangeError(`Missing named parameter "${name}"`);
        bound[name] = values[name] ?? null;
      }
      return [bound];
    }
    if (params.length < this.positional) throw new RangeError('Too few parameter values were provided');
    return params.map((value) => value ?? null);
  }
}

/** The `@name` parameters and the number of `?` in `sql`, leaving out string literals, quoted names and comments. */
function parameters(sql: string): { names: string[]; positional: number } {
  const code = sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\//g, ' ');
  return {
    names: [...new Set(Array.from(code.matchAll(/@(\w+)/g), (match) => match[1]))],
    positional: code.split('?').length - 1,
  };
}
