/**
 * The hold on a shared store's lines: the online lines renewed every third of the lease, the lines
 * newly held told once, a failed renewal warned and the hold kept as it was.
 */
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { LineLease, type PresencePort } from '../../src/gateway/line-lease';

class FakePresence implements PresencePort {
  /** What the store grants: the lines another live instance holds are not granted. */
  heldElsewhere = new Set<string>();
  failing: Error | null = null;
  readonly renewals: string[][] = [];

  async renew(lines: readonly string[]): Promise<ReadonlyMap<string, string | null>> {
    this.renewals.push([...lines]);
    if (this.failing !== null) throw this.failing;
    return new Map(lines.filter((line) => !this.heldElsewhere.has(line)).map((line) => [line, null]));
  }
}

describe('line lease (a shared store)', () => {
  let clock: sinon.SinonFakeTimers | null = null;
  afterEach(() => {
    clock?.restore();
    clock = null;
  });

  function rig(online: string[]) {
    const presence = new FakePresence();
    const taken: string[][] = [];
    const warnings: unknown[] = [];
    const lease = new LineLease({ presence, onlineLines: () => online, taken: (lines) => taken.push(lines), warn: (err) => warnings.push(err) }, 30_000);
    return { presence, taken, warnings, lease };
  }

  it('tells the lines newly held once, and not those another instance holds', async () => {
    const online = ['l1', 'l2', 'l3'];
    const { presence, taken, lease } = rig(online);
    presence.heldElsewhere.add('l3');
    await lease.renewNow();
    assert.deepEqual(taken, [['l1', 'l2']]);
    await lease.renewNow();
    assert.deepEqual(taken, [['l1', 'l2']], 'held already: nothing new');
    presence.heldElsewhere.clear(); // the other instance's lease lapsed
    await lease.renewNow();
    assert.deepEqual(taken, [['l1', 'l2'], ['l3']]);
    assert.deepEqual(lease.lines(), ['l1', 'l2', 'l3']);
  });

  it('keeps its hold through a failed renewal and warns', async () => {
    const { presence, taken, warnings, lease } = rig(['l1']);
    await lease.renewNow();
    presence.failing = new Error('connection refused');
    await lease.renewNow();
    assert.deepEqual(warnings, [presence.failing]);
    assert.deepEqual(lease.lines(), ['l1']);
    presence.failing = null;
    await lease.renewNow();
    assert.deepEqual(taken, [['l1']], 'the line never left: not told again');
  });

  it('renews every third of the lease once started, one renewal at a time, and not after stop', async () => {
    clock = sinon.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] });
    const { presence, lease } = rig(['l1']);
    lease.start();
    const [first, second] = [lease.renewNow(), lease.renewNow()];
    assert.equal(first, second, 'a call while one runs waits for it');
    await first;
    assert.equal(presence.renewals.length, 1);
    await clock.tickAsync(10_000);
    assert.equal(presence.renewals.length, 2);
    await clock.tickAsync(20_000);
    assert.equal(presence.renewals.length, 4);
    lease.stop();
    await clock.tickAsync(60_000);
    assert.equal(presence.renewals.length, 4);
  });
});
