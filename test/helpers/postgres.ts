/**
 * A throwaway PostgreSQL cluster for the tests: `initdb` in a temp dir, the server on a free
 * loopback port (TCP on 127.0.0.1 only, its socket in the same dir), stopped and removed at the
 * end. PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` OS user
 * (Debian's package creates it) and its commands run through `runuser`. The binaries are where
 * `pg_config --bindir` says, else the newest /usr/lib/postgresql/<version>/bin.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { skipOrFail } from './skip';

function binDir(): string | null {
  const configured = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const fromConfig = configured.status === 0 ? configured.stdout.trim() : '';
  if (fromConfig !== '' && fs.existsSync(path.join(fromConfig, 'initdb'))) return fromConfig;
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length === 0 ? null : path.join(root, versions[0], 'bin');
}

/** Why no cluster can start here, or null. */
export function postgresMissing(): string | null {
  if (binDir() === null) return 'no PostgreSQL server binaries (pg_config --bindir, /usr/lib/postgresql/*/bin; scripts/install-test-deps.sh installs Debian\'s postgresql)';
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) return 'running as root without a postgres OS user to run PostgreSQL as';
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export class PgCluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
    private readonly asPostgres: boolean,
    /** fsync on (benchmarks); the tests run without it. */
    private readonly durable: boolean,
  ) {}

  /** A running cluster, or the suite skips (fails under CI=true) with the reason none can run. */
  static async startFor(context: Mocha.Context): Promise<PgCluster> {
    const missing = postgresMissing();
    if (missing !== null) skipOrFail(context, `PostgreSQL suite skipped: ${missing}`);
    return PgCluster.start();
  }

  static async start(options: { durable?: boolean } = {}): Promise<PgCluster> {
    const bin = binDir();
    if (bin === null) throw new Error(postgresMissing() ?? 'no PostgreSQL');
    const asPostgres = process.getuid?.() === 0;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-pg-'));
    if (asPostgres) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
      fs.chownSync(dir, uid, gid);
    }
    const cluster = new PgCluster(dir, await freePort(), bin, asPostgres, options.durable === true);
    try {
      cluster.run('initdb', ['-D', cluster.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
      cluster.startServer();
    } catch (err) {
      cluster.remove();
      throw err;
    }
    return cluster;
  }

  private get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  /** A connection string to `database` (default the cluster's own `postgres`). */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** A new empty database and its connection string. */
  createDatabase(name: string): string {
    this.run('createdb', ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', name]);
    return this.url(name);
  }

  /** The server stopped (fast: sessions cut) and started again, its data kept. */
  stopServer(): void {
    this.run('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
  }

  startServer(): void {
    const fsync = this.durable ? '' : ' -c fsync=off';
    const options = `-c listen_addresses=127.0.0.1 -p ${this.port} -k ${this.dir}${fsync} -c max_connections=60`;
    this.run('pg_ctl', ['-D', this.dataDir, '-l', path.join(this.dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
  }

  stop(): void {
    try {
      this.stopServer();
    } finally {
      this.remove();
    }
  }

  private remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private run(command: string, args: string[]): void {
    const binary = path.join(this.bin, command);
    const [file, argv] = this.asPostgres ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
    const result = spawnSync(file, argv, { encoding: 'utf8', cwd: this.dir });
    if (result.status !== 0) {
      const log = fs.existsSync(path.join(this.dir, 'server.log')) ? fs.readFileSync(path.join(this.dir, 'server.log'), 'utf8').slice(-2000) : '';
      throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}${result.stdout}\n${log}`);
    }
  }
}
