import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import * as library from '../../src';
import { type GatewayWarning, GoipGateway, type GoipGatewayOptions } from '../../src/gateway';
import { formatKeepalive, formatReport } from '../../src/protocol';
import type { DeliveryPayload, GoipEvent } from '../../src/link';
import { SimLine } from '../../src/sim';
import { MemoryOutbox } from '../helpers/memory-outbox';
import { nextEvent, UdpPeer } from '../helpers/udp';

const DEVICES = [{ id: 'goip01', password: 'secret' }];
const keepalive = formatKeepalive({ count: 1, id: 'goip01', password: 'secret', fields: { gsm_status: 'LOGIN', signal: '20' } });

describe('GoipGateway', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function started(options: Partial<GoipGatewayOptions> = {}): Promise<{ gateway: GoipGateway; port: number; line: UdpPeer }> {
    const gateway = new GoipGateway({ server: { bind: '127.0.0.1', port: 0, devices: DEVICES }, store: new MemoryOutbox(), ...options });
    cleanups.push(() => gateway.stop());
    const port = (await gateway.start())?.port ?? assert.fail('not listening');
    const line = await UdpPeer.open();
    cleanups.push(() => line.close());
    assert.equal((await line.request(keepalive, port)).text, 'reg:1;status:0;');
    return { gateway, port, line };
  }

  it('publishes a DELIVER report once, built complete with the messageId of its send', async () => {
    const outbox = new MemoryOutbox();
    const { gateway, port, line } = await started({ store: outbox });
    outbox.enqueue({ batchId: 'b', text: 'Hi', line: 'goip01', nodeId: 'n', meta: {}, segments: 1, encoding: 'GSM-7', recipients: [{ messageId: 'm1', number: '+8613800138000' }] });
    outbox.markSent(outbox.claim('goip01', 1, 1, 1)[0].messageId, 7, '2024-05-01');
    const raw: GoipEvent[] = [];
    gateway.server.on('event', (e) => raw.push(e));
    const delivered = nextEvent<[GoipEvent]>(gateway, 'event', (e) => e.event === 'delivery');
    const ack = await line.request(formatReport('DELIVER', 31, 'goip01', 'secret', { sms_no: '7', state: '0', num: '+8613800138000' }), port);
    assert.equal(ack.text, 'DELIVER 31 OK');
    const [event] = await delivered;
    assert.deepEqual(event.payload, { to: '+8613800138000', state: 0, status: 'delivered', smsNo: 7, messageId: 'm1' });
    assert.equal(event.fields.reportId, '31');
    assert.equal(outbox.get('m1')?.deliveryState, 0);
    const report = raw.find((e) => e.event === 'delivery');
    assert.equal((report?.payload as DeliveryPayload).messageId, null, "the server's own report is left as it came");
  });

  it("publishes the status-report watcher's deliveries on the same stream", async () => {
    const { gateway } = await started();
    const derived: GoipEvent = { event: 'delivery', line: 'goip01', payload: { to: '+1', state: 0, status: 'delivered', smsNo: null, messageId: null }, fields: { source: 'pdu' }, receivedAt: 1 };
    const published = nextEvent<[GoipEvent]>(gateway, 'event');
    gateway.statusReports.emit('delivery', derived);
    assert.equal((await published)[0], derived);
  });

  it('isolates listeners: one that throws costs no ack and no other listener, and is warned about at most once per interval', async () => {
    const { gateway, port, line } = await started();
    const warnings: GatewayWarning[] = [];
    gateway.on('warning', (w) => warnings.push(w));
    gateway.on('event', () => {
      throw new Error('flow bug');
    });
    const received: GoipEvent[] = [];
    gateway.on('event', (e) => received.push(e));
    gateway.server.on('event', () => {
      throw new Error('consumer bug');
    });
    for (const id of [1, 2]) {
      const ack = await line.request(formatReport('RECEIVE', id, 'goip01', 'secret', { srcnum: '+1', msg: `m${id}` }), port);
      assert.equal(ack.text, `RECEIVE ${id} OK`);
    }
    assert.deepEqual(received.filter((e) => e.event === 'sms').map((e) => e.payload), ['m1', 'm2']);
    assert.deepEqual(warnings.map((w) => [w.source, w.error.message]), [['listener', 'flow bug']]);
    assert.ok(gateway.server.counters.listenerErrors >= 2);
  });

  it('says why sending is unavailable without a store, and still receives', async () => {
    const { gateway, port, line } = await started({ store: null });
    assert.equal(gateway.sending, null);
    assert.match(gateway.sendingError?.message ?? '', /no store/);
    const sms = nextEvent<[GoipEvent]>(gateway, 'event', (e) => e.event === 'sms');
    await line.request(formatReport('RECEIVE', 3, 'goip01', 'secret', { srcnum: '+1', msg: 'in' }), port);
    assert.equal((await sms)[0].payload, 'in');
  });

  /** Runs the README's script as printed; only its port (44444) and store file give way to test ones, and `options` are added. */
  function readmeScript(options: Partial<GoipGatewayOptions> = {}): { gateway: GoipGateway; printed: (text: string) => Promise<unknown>; signals: Map<string, () => Promise<void>> } {
    const readme = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Without Node-RED'));
    const script = /```js\n([\s\S]*?)```/.exec(section)?.[1] ?? assert.fail('no script in the README section');
    const created: GoipGateway[] = [];
    class TestGateway extends GoipGateway {
      constructor(printedOptions: GoipGatewayOptions) {
        const server = { ...printedOptions.server, ...options.server, bind: '127.0.0.1', port: 0 };
        super({ ...printedOptions, ...options, server, store: ':memory:' });
        created.push(this);
      }
    }
    const output = new EventEmitter();
    const lines: string[] = [];
    const print = (...args: unknown[]): void => {
      lines.push(args.join(' '));
      output.emit('line', args.join(' '));
    };
    const signals = new Map<string, () => Promise<void>>();
    const fakeRequire = (name: string): unknown => (name === 'node-red-contrib-goip-sms' ? { ...library, GoipGateway: TestGateway } : require(name));
    const fakeProcess = { once: (signal: string, handler: () => Promise<void>) => signals.set(signal, handler) };
    new Function('require', 'console', 'process', script)(fakeRequire, { log: print, warn: print }, fakeProcess);
    const [gateway] = created;
    cleanups.push(() => gateway.stop());
    const printed = (text: string): Promise<unknown> => (lines.includes(text) ? Promise.resolve() : nextEvent<[string]>(output, 'line', (l) => l === text));
    return { gateway, printed, signals };
  }

  it("runs the README's script: receives an SMS and sends one", async () => {
    const { gateway, printed, signals } = readmeScript();
    const port = (await gateway.start())?.port ?? assert.fail('not listening');
    const sim = new SimLine({ id: 'goip01', password: 'secret', server: { host: '127.0.0.1', port }, smsRadioTimeMs: 20 });
    cleanups.push(() => sim.stop());
    await sim.start();
    await printed('+8613800138000: sent');
    assert.deepEqual(sim.ledger.sent.map((s) => [s.number, s.text]), [['+8613800138000', 'Hello from a script']]);
    await sim.receiveSms('+8613900000000', 'Hi script');
    await printed('SMS on goip01 from +8613900000000: Hi script');
    await signals.get('SIGINT')?.();
    assert.deepEqual(gateway.status(), { state: 'idle' });
  });

  it("runs the README's script with two routing groups: its number goes out on its group's line", async () => {
    const devices = [
      { id: 'goip01', password: 'secret' },
      { id: 'goip02', password: 'secret' },
    ];
    const groups = [{ name: 'china', lines: ['goip02'], prefixes: ['86'], numberFormat: 'e164' as const, country: '' }];
    const { gateway, printed, signals } = readmeScript({ server: { devices }, fleet: { groups } });
    const port = (await gateway.start())?.port ?? assert.fail('not listening');
    const sims = devices.map(({ id }) => new SimLine({ id, password: 'secret', server: { host: '127.0.0.1', port }, smsRadioTimeMs: 20 }));
    for (const sim of sims) cleanups.push(() => sim.stop());
    await Promise.all(sims.map((sim) => sim.start()));
    await printed('+8613800138000: sent');
    assert.deepEqual(sims.map((sim) => sim.ledger.sent.map((sent) => sent.number)), [[], ['+8613800138000']], 'goip01 is in no group: only goip02 serves +86');
    await signals.get('SIGINT')?.();
  });
});
