/** GoipGateway with its inbox: nothing acked before it is stored, a failing store, resends across a restart. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sinon from 'sinon';
import { GoipGateway } from '../../src/gateway';
import { formatKeepalive, formatReport } from '../../src/protocol';
import { SqliteInboxLog } from '../../src/outbox/inbox-log';
import type { GoipEvent } from '../../src/link';
import { nextEvent, UdpPeer } from '../helpers/udp';

const DEVICES = [{ id: 'goip01', password: 'secret' }];
const keepalive = (count: number): string => formatKeepalive({ count, id: 'goip01', password: 'secret', fields: { gsm_status: 'LOGIN', signal: '20' } });
const receive = (id: number, text: string): string => formatReport('RECEIVE', id, 'goip01', 'secret', { srcnum: '+8613800138000', msg: text });

describe('GoipGateway inbox', () => {
  let dir: string;
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-inbox-'));
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function started(): Promise<{ gateway: GoipGateway; port: number; line: UdpPeer }> {
    const gateway = new GoipGateway({ server: { bind: '127.0.0.1', port: 0, devices: DEVICES }, store: path.join(dir, 'store.db') });
    cleanups.push(() => gateway.stop());
    const port = (await gateway.start())?.port ?? assert.fail('not listening');
    const line = await UdpPeer.open();
    cleanups.push(() => line.close());
    assert.equal((await line.request(keepalive(1), port)).text, 'reg:1;status:0;');
    return { gateway, port, line };
  }

  it('acks a RECEIVE once stored, with its inboxId on the event', async () => {
    const { gateway, port, line } = await started();
    const published = nextEvent<[GoipEvent]>(gateway, 'event', (e) => e.event === 'sms');
    assert.equal((await line.request(receive(1, 'hello'), port)).text, 'RECEIVE 1 OK');
    const [event] = await published;
    assert.equal(typeof event.inboxId, 'number');
    assert.deepEqual((await gateway.inbox?.query({ limit: 5 }))?.items.map((item) => item.text), ['hello']);
  });

  it('sends no ack while the store cannot write, says why in the status, and acks the resend once it writes again', async () => {
    const { gateway, port, line } = await started();
    const insert = sinon.stub(SqliteInboxLog.prototype, 'insert').throws(Object.assign(new Error('attempt to write a readonly database'), { code: 'SQLITE_READONLY' }));
    cleanups.push(() => insert.restore());
    const failed = nextEvent<[{ inboxError?: Error }]>(gateway, 'status', (s) => s.inboxError !== undefined);
    await line.send(receive(2, 'kept'), port);
    const [status] = await failed;
    assert.match(String(status.inboxError?.message), /readonly/);
    // Anything acked would have come before this keepalive's answer.
    assert.equal((await line.request(keepalive(2), port)).text, 'reg:2;status:0;');
    assert.deepEqual(line.received.filter((m) => m.text.startsWith('RECEIVE')), []);
    insert.restore();
    const recovered = nextEvent<[{ inboxError?: Error }]>(gateway, 'status', (s) => s.inboxError === undefined);
    assert.equal((await line.request(receive(2, 'kept'), port)).text, 'RECEIVE 2 OK');
    await recovered;
    assert.deepEqual((await gateway.inbox?.query({ limit: 5 }))?.items.map((item) => item.text), ['kept']);
  });

  it('stores a resend whose ack was lost across a restart only once', async () => {
    const first = await started();
    assert.equal((await first.line.request(receive(3, 'once'), first.port)).text, 'RECEIVE 3 OK');
    await first.gateway.stop();
    const again = await started();
    assert.equal((await again.line.request(receive(3, 'once'), again.port)).text, 'RECEIVE 3 OK');
    assert.deepEqual((await again.gateway.inbox?.query({ limit: 5 }))?.items.map((item) => item.text), ['once']);
  });

  it('acks a RECEIVE only once its commit is synced to the disk, and refuses it when the sync fails', async () => {
    const pending: Array<(err: NodeJS.ErrnoException | null) => void> = [];
    const fdatasync = sinon.stub(fs, 'fdatasync').callsFake(((_fd: number, done: (err: NodeJS.ErrnoException | null) => void) => {
      pending.push(done);
    }) as typeof fs.fdatasync);
    cleanups.push(() => fdatasync.restore());
    const { gateway, port, line } = await started();
    await line.send(receive(4, 'on disk'), port);
    while (pending.length === 0) await new Promise((resolve) => setImmediate(resolve));
    assert.equal((await line.request(keepalive(2), port)).text, 'reg:2;status:0;');
    assert.deepEqual(line.received.filter((m) => m.text.startsWith('RECEIVE')), []);
    const acked = line.next((m) => m.text === 'RECEIVE 4 OK');
    pending.shift()?.(null);
    await acked;

    const failed = nextEvent<[{ inboxError?: Error }]>(gateway, 'status', (s) => s.inboxError !== undefined);
    fdatasync.callsFake(((_fd: number, done: (err: NodeJS.ErrnoException | null) => void) => {
      done(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    }) as typeof fs.fdatasync);
    await line.send(receive(5, 'sync fails'), port);
    const [status] = await failed;
    assert.match(String(status.inboxError?.message), /EIO/);
    assert.equal((await line.request(keepalive(3), port)).text, 'reg:3;status:0;');
    assert.deepEqual(line.received.filter((m) => m.text === 'RECEIVE 5 OK'), []);
    fdatasync.restore();
    const recovered = nextEvent<[{ inboxError?: Error }]>(gateway, 'status', (s) => s.inboxError === undefined);
    assert.equal((await line.request(receive(5, 'sync fails'), port)).text, 'RECEIVE 5 OK');
    await recovered;
  });
});
