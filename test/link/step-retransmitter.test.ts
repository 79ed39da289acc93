/** The one-timer slot the retransmitter and the bulk sessions share: a stale firing never runs. */
import assert from 'node:assert/strict';
import { TimerSlot } from '../../src/link/step-retransmitter';

/** Timers whose firings are queued, the way the send engine queues a timer's run behind a commit. */
class DeferredTimers {
  private next = 0;
  readonly pending = new Map<number, () => void>();
  readonly fired: Array<() => void> = [];

  after = (_ms: number, run: () => void): number => {
    const handle = ++this.next;
    this.pending.set(handle, run);
    return handle;
  };

  cancel = (handle: number): void => {
    this.pending.delete(handle);
  };

  /** Every pending timer fires; their runs wait in `fired`. */
  fire(): void {
    for (const [handle, run] of this.pending) {
      this.pending.delete(handle);
      this.fired.push(run);
    }
  }

  runFired(): void {
    for (const run of this.fired.splice(0)) run();
  }
}

describe('TimerSlot', () => {
  it('runs the armed timer once it fires', () => {
    const timers = new DeferredTimers();
    const slot = new TimerSlot(timers.after, timers.cancel);
    const ran: string[] = [];
    const record = (what: string) => (): void => void ran.push(what);
    slot.arm(10, record('a'));
    assert.equal(slot.armed, true);
    timers.fire();
    timers.runFired();
    assert.deepEqual(ran, ['a']);
    assert.equal(slot.armed, false);
  });

  it('skips a firing whose run waited while the slot was armed again or disarmed, and keeps the new timer', () => {
    const timers = new DeferredTimers();
    const slot = new TimerSlot(timers.after, timers.cancel);
    const ran: string[] = [];
    const record = (what: string) => (): void => void ran.push(what);
    slot.arm(10, record('re-ask an answered number'));
    timers.fire(); // fired, its run queued behind a commit
    slot.arm(10, record('the next step'));
    timers.runFired();
    assert.equal(ran.length, 0, 'the stale run did nothing');
    assert.equal(slot.armed, true, 'the new timer is still armed');
    timers.fire();
    timers.runFired();
    assert.deepEqual(ran, ['the next step']);

    slot.arm(10, record('disarmed'));
    timers.fire();
    slot.disarm();
    timers.runFired();
    assert.deepEqual(ran, ['the next step']);
  });
});
