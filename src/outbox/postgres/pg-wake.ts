/**
 * New work in the shared queue, told to every instance: an enqueue notifies the store's channel
 * (at its commit), and each instance listens on one connection of its own, so a batch handed to
 * goip-send on one instance starts at once on the lines of all (the engines' poll is only the
 * fallback). A dropped connection is made again with a doubling wait.
 */
import type pg from 'pg';
import { checkSchemaName, DEFAULT_SCHEMA, pgDriver, type PgStoreOptions } from './pg-pool';

/** The channel of every store; the payload names the schema (several stores may share a database). */
export const QUEUE_CHANNEL = 'goip_queue';

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

export class PgWake {
  private client: pg.Client | null = null;
  private retryMs = FIRST_RETRY_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly schema: string;

  constructor(
    private readonly options: PgStoreOptions,
    private readonly onWork: () => void,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    this.schema = checkSchemaName(options.schema ?? DEFAULT_SCHEMA);
  }

  /** Resolves once listening (or once the first try failed: it tries again by itself). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const connectionString = this.options.connectionString === '' ? undefined : this.options.connectionString;
    const client = new (pgDriver().Client)({ connectionString });
    client.on('notification', (message) => {
      if (message.channel === QUEUE_CHANNEL && message.payload === this.schema) this.onWork();
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('postgres store: the wake connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${QUEUE_CHANNEL}`);
    } catch (err) {
      this.lost(client, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = FIRST_RETRY_MS;
    // Work enqueued while the connection was down is found by this pass.
    this.onWork();
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client !== null && this.client !== client) return;
    this.client = null;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    if (this.stopped || this.retryTimer !== null) return;
    this.onError(err);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }
}
