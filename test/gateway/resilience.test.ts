import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import sinon from 'sinon';
import { type GatewayStatus, type GatewayWarning, GoipGateway } from '../../src/gateway';
import { formatKeepalive } from '../../src/protocol';
import { BindError, GoipServer, isTransientBindError } from '../../src/link';
import { CommandClient } from '../../src/link/commands';
import { nextEvent, UdpPeer } from '../helpers/udp';

const DEVICES = [{ id: 'goip01', password: 'secret' }];
const FAKED: Array<'setTimeout' | 'clearTimeout' | 'setInterval' | 'clearInterval' | 'Date'> = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'];
const keepalive = (count = 1): string => formatKeepalive({ count, id: 'goip01', password: 'secret', fields: { gsm_status: 'LOGIN', signal: '20' } });

/** Sockets this process holds open (file descriptors: a closed socket's goes at once). */
function openSockets(): number {
  const fds = fs.readdirSync('/proc/self/fd');
  return fds.filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
    } catch {
      return false; // closed meanwhile
    }
  }).length;
}

async function holdPort(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

function release(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

function nextStatus(gateway: GoipGateway, state: GatewayStatus['state']): Promise<GatewayStatus> {
  return nextEvent<[GatewayStatus]>(gateway, 'status', (s) => s.state === state).then(([s]) => s);
}

describe('resilience', () => {
  let clock: sinon.SinonFakeTimers | null = null;
  const cleanups: Array<() => Promise<void>> = [];

  afterEach(async () => {
    clock?.restore();
    clock = null;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function gatewayOn(port: number, extra: Partial<ConstructorParameters<typeof GoipGateway>[0]> = {}): GoipGateway {
    const gateway = new GoipGateway({ server: { bind: '127.0.0.1', port, devices: DEVICES }, store: ':memory:', ...extra });
    cleanups.push(() => gateway.stop());
    return gateway;
  }

  describe('bind failures', () => {
    it('tells a failure that may pass from one that will not', () => {
      for (const code of ['EADDRINUSE', 'EACCES', 'EPERM', 'EADDRNOTAVAIL']) assert.equal(isTransientBindError(new BindError('x', code)), true, code);
      for (const code of ['ENOTFOUND', 'EINVAL', 'ESTOPPED']) assert.equal(isTransientBindError(new BindError('x', code)), false, code);
      assert.equal(isTransientBindError(new Error('EADDRINUSE')), false);
    });

    it('binds on its own once a held port is freed, and answers keepalives within 30 s (no redeploy)', async () => {
      const blocker = await holdPort();
      const port = blocker.address().port;
      clock = sinon.useFakeTimers({ toFake: FAKED });
      const gateway = gatewayOn(port);
      const waits: number[] = [];
      gateway.on('status', (s) => s.state === 'retrying' && waits.push(s.retryInMs));
      let retrying = nextStatus(gateway, 'retrying');
      const started = gateway.start();
      const first = await retrying;
      assert.equal(first.state === 'retrying' && first.error.code, 'EADDRINUSE');
      assert.match(first.state === 'retrying' ? first.error.message : '', /UDP port \d+ is already in use/);
      // Held through the doubling waits up to the 30 s cap: 1 + 2 + 4 + 8 + 16 s.
      for (const wait of [1000, 2000, 4000, 8000, 16_000]) {
        retrying = nextStatus(gateway, 'retrying');
        await clock.tickAsync(wait);
        await retrying;
      }
      assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16_000, 30_000]);
      assert.equal(gateway.server.address(), null);

      await release(blocker);
      const listening = nextStatus(gateway, 'listening');
      await clock.tickAsync(30_000);
      await listening;
      assert.equal((await started)?.port, port);
      const line = await UdpPeer.open();
      cleanups.push(() => line.close());
      assert.equal((await line.request(keepalive(), port)).text, 'reg:1;status:0;');
    });

    it('stop() during a retry wait settles everything: no timer, no socket, start resolves null', async () => {
      const socketsBefore = openSockets();
      const blocker = await holdPort();
      cleanups.push(() => release(blocker));
      clock = sinon.useFakeTimers({ toFake: FAKED });
      const gateway = gatewayOn(blocker.address().port);
      const retrying = nextStatus(gateway, 'retrying');
      const started = gateway.start();
      await retrying;
      await gateway.stop();
      assert.equal(await started, null);
      assert.equal(clock.countTimers(), 0, 'no timer left');
      assert.equal(openSockets(), socketsBefore + 1, 'only the blocker is open');
      assert.deepEqual(gateway.status(), { state: 'idle' });
    });

    it('stop() right after start() (bind pending) leaves nothing open', async () => {
      const socketsBefore = openSockets();
      const gateway = gatewayOn(0);
      const started = gateway.start();
      await gateway.stop();
      assert.equal(await started, null);
      assert.equal(openSockets(), socketsBefore);
      assert.equal(gateway.server.address(), null);
    });

    it('a server stopped while its bind is pending rejects start with ESTOPPED and holds no socket', async () => {
      const socketsBefore = openSockets();
      const server = new GoipServer({ bind: '127.0.0.1', port: 0, devices: DEVICES });
      const started = server.start();
      await server.stop();
      await assert.rejects(started, (err: unknown) => err instanceof BindError && err.code === 'ESTOPPED');
      assert.equal(openSockets(), socketsBefore);
    });

    it('50 full start/stop cycles on one port stay clean: no warning, file descriptors flat', async function () {
      this.timeout(60_000);
      const fds = (): number => fs.readdirSync('/proc/self/fd').length;
      const line = await UdpPeer.open();
      cleanups.push(() => line.close());
      const warnings: GatewayWarning[] = [];
      let port = 0;
      let fdsAfterFirst = 0;
      for (let cycle = 0; cycle < 50; cycle++) {
        const gateway = new GoipGateway({ server: { bind: '127.0.0.1', port, devices: DEVICES }, store: ':memory:' });
        gateway.on('warning', (w) => warnings.push(w));
        port = (await gateway.start())?.port ?? assert.fail('not listening');
        assert.equal((await line.request(keepalive(cycle + 1), port)).text, `reg:${cycle + 1};status:0;`);
        await gateway.stop();
        if (cycle === 0) fdsAfterFirst = fds();
      }
      assert.deepEqual(warnings, []);
      assert.ok(fds() <= fdsAfterFirst, `file descriptors grew from ${fdsAfterFirst} to ${fds()}`);
    });
  });

  describe('AT sessions', () => {
    it('ends the AT session of a line that went offline: no ATALIVE to it, and says so', async () => {
      clock = sinon.useFakeTimers({ toFake: FAKED });
      const server = new GoipServer({ bind: '127.0.0.1', port: 0, devices: DEVICES, offlineAfterMs: 1000 });
      const client = new CommandClient(server, { atAliveMs: 30_000 });
      client.start();
      const { port } = await server.start();
      const line = await UdpPeer.open();
      cleanups.push(async () => {
        await client.stop();
        await line.close();
        await server.stop();
      });
      await line.request(keepalive(), port);
      const opened = client.request('goip01', 'ATSTART');
      const request = await line.next((m) => m.text.startsWith('ATSTART '));
      await line.send(`ATSTART ${request.text.split(' ')[1]} OK`, port);
      assert.equal(await opened, true);
      const out: string[] = [];
      server.on('datagramOut', (text) => out.push(text));
      const sessions: Array<[string, boolean]> = [];
      client.on('atSession', (id, open) => sessions.push([id, open]));
      const warnings: string[] = [];
      client.on('warning', (err) => warnings.push(err.message));

      clock.tick(1100);
      assert.equal(server.line('goip01')?.online, false);
      clock.tick(30_000);
      assert.deepEqual(client.atSessions(), []);
      assert.deepEqual(sessions, [['goip01', false]]);
      assert.deepEqual(warnings, ['AT session of line goip01 ended: the line went offline']);
      clock.tick(120_000);
      assert.deepEqual(out.filter((text) => text.startsWith('ATALIVE')), [], 'no ATALIVE to an offline line');
    });
  });
});
