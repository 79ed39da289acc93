/**
 * GoipGateway on the shared store (pgStore), without Node-RED: received SMS acked once stored on
 * PostgreSQL, history and reply correlation, long SMS joined through a restart, the operator's
 * queue, a store that is away at start (status, then listening by itself), and bad settings.
 */
import assert from 'node:assert/strict';
import { GoipGateway } from '../../../src/gateway';
import type { GatewayStatus } from '../../../src/gateway/types';
import type { GoipEvent } from '../../../src/link';
import { pgStore } from '../../../src/outbox/postgres/pg-store';
import { formatKeepalive, formatReport } from '../../../src/protocol';
import { PgCluster } from '../../helpers/postgres';
import { nextEvent, UdpPeer } from '../../helpers/udp';

const DEVICES = [{ id: 'goip01', password: 'secret' }];
const keepalive = (count: number): string => formatKeepalive({ count, id: 'goip01', password: 'secret', fields: { gsm_status: 'LOGIN', signal: '20' } });
const receive = (id: number, text: string, from = '+8613800138000'): string => formatReport('RECEIVE', id, 'goip01', 'secret', { srcnum: from, msg: text });
const FULL_PART = 'a'.repeat(153);

describe('GoipGateway on the shared store (PostgreSQL)', function () {
  this.timeout(60_000);
  let cluster: PgCluster;
  let databases = 0;
  const cleanups: Array<() => Promise<void> | void> = [];
  before(async function () {
    cluster = await PgCluster.startFor(this);
  });
  after(() => cluster?.stop());
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function gatewayOn(url: string, extra: { bindRetryMs?: number } = {}): GoipGateway {
    const warnings: unknown[] = [];
    const store = pgStore({ connectionString: url, instance: 'solo', leaseMs: 30_000 }, (err) => warnings.push(err));
    const gateway = new GoipGateway({ server: { bind: '127.0.0.1', port: 0, devices: DEVICES }, store, ...extra });
    cleanups.push(() => gateway.stop());
    return gateway;
  }

  async function started(url: string): Promise<{ gateway: GoipGateway; port: number; line: UdpPeer }> {
    const gateway = gatewayOn(url);
    const port = (await gateway.start())?.port ?? assert.fail('not listening');
    const line = await UdpPeer.open();
    cleanups.push(() => line.close());
    assert.equal((await line.request(keepalive(1), port)).text, 'reg:1;status:0;');
    return { gateway, port, line };
  }

  it('acks a RECEIVE once stored, and answers history from the store', async () => {
    const url = cluster.createDatabase(`store_${++databases}`);
    const { gateway, port, line } = await started(url);
    const published = nextEvent<[GoipEvent]>(gateway, 'event', (e) => e.event === 'sms');
    assert.equal((await line.request(receive(1, 'hello PostgreSQL'), port)).text, 'RECEIVE 1 OK');
    const [event] = await published;
    assert.equal(typeof event.inboxId, 'number');
    const page = await gateway.inbox?.query({ text: 'postgres' });
    assert.deepEqual(page?.items.map((item) => [item.text, item.kind, item.line]), [['hello PostgreSQL', 'sms', 'goip01']]);
    await assert.rejects(gateway.inbox?.query({ limit: 'many' }) ?? Promise.resolve(), /limit/);
  });

  it('joins a long SMS whose parts straddle a restart (held parts on the store)', async () => {
    const url = cluster.createDatabase(`store_${++databases}`);
    const first = await started(url);
    assert.equal((await first.line.request(receive(1, FULL_PART), first.port)).text, 'RECEIVE 1 OK');
    await first.gateway.stop();
    const again = await started(url);
    const joined = nextEvent<[GoipEvent]>(again.gateway, 'event', (e) => e.event === 'sms');
    assert.equal((await again.line.request(receive(2, 'the end'), again.port)).text, 'RECEIVE 2 OK');
    const [event] = await joined;
    assert.equal(event.payload, `${FULL_PART}the end`);
    assert.equal(event.parts, 2);
  });

  it('submits, counts and cancels through the operator queue of the whole cluster', async () => {
    const url = cluster.createDatabase(`store_${++databases}`);
    const { gateway } = await started(url);
    const sending = gateway.sending ?? assert.fail('no sending');
    const submitted = await sending.submit({ owner: 'send1', to: ['+8613900000001', '+8613900000002'], text: 'later', line: null, sendAt: Date.now() + 3600_000 });
    assert.equal((await sending.status(submitted.batchId))?.queued, 2);
    assert.deepEqual(await sending.cancel({ batchId: submitted.batchId }), { cancelled: 2, inFlight: 0 });
    assert.deepEqual(await sending.pending(), { queued: 0, claimed: 0 });
    await assert.rejects(
      sending.submitBatch('send1', { text: 't', numbers: ['+8613900000003'], groups: [''], line: null, bytes: 1, segments: 1, encoding: 'GSM-7' }, {}, { priority: 'normal', sendAt: null, expiresAt: null, batchId: submitted.batchId }),
      /already in the queue/,
    );
  });

  it('waits for a store that does not answer with a status that says why, then listens by itself', async () => {
    const url = `postgres://postgres@127.0.0.1:${cluster.port}/not_yet_${++databases}`;
    const gateway = gatewayOn(url, { bindRetryMs: 50 });
    const waiting = nextEvent<[GatewayStatus]>(gateway, 'status', (s) => s.state === 'waiting-store');
    const starting = gateway.start();
    const [status] = await waiting;
    assert.equal(status.state, 'waiting-store');
    assert.match(status.state === 'waiting-store' ? status.error.message : '', /not_yet/);
    cluster.createDatabase(`not_yet_${databases}`);
    assert.ok(((await starting) ?? assert.fail('stopped'))?.port > 0);
    assert.equal(gateway.status().state, 'listening');
  });

  it('refuses a schema name that is not a plain SQL name, and an instance without a name', () => {
    assert.throws(() => pgStore({ schema: 'goip; DROP', instance: 'a', leaseMs: 30_000 }, () => undefined), /plain lower-case/);
    assert.throws(() => pgStore({ instance: ' ', leaseMs: 30_000 }, () => undefined), /instance/);
  });
});
