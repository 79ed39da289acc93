/**
 * Fake time for a world of real loopback sockets (the bulk engine against simulated lines): once
 * the datagrams have settled (nothing sent or read for a few loop turns), time jumps to the next
 * timer. Timings are then exact and nothing waits on the wall clock. setImmediate stays real: the
 * sockets and the engine's input drain run on it.
 */
import sinon from 'sinon';

const TO_FAKE: Array<'setTimeout' | 'clearTimeout' | 'setInterval' | 'clearInterval' | 'Date'> = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'];

/** Loop turns without a datagram that count as settled: a send reaches its peer's read within two. */
const QUIET_TURNS = 4;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class FakeTime {
  readonly clock = sinon.useFakeTimers({ toFake: TO_FAKE });
  private activity: (() => number) | null = null;
  private running = true;
  private loop: Promise<void> = Promise.resolve();

  /** Starts moving time, judging settledness by `activity` (a count of datagrams sent and read). */
  drive(activity: () => number): void {
    this.activity = activity;
    this.loop = this.run();
  }

  /** Stops moving time and puts the real timers back. */
  async restore(): Promise<void> {
    this.running = false;
    await this.loop;
    this.clock.restore();
  }

  private async run(): Promise<void> {
    while (this.running) {
      await this.settled();
      if (this.running) this.clock.next();
    }
  }

  private async settled(): Promise<void> {
    const activity = this.activity as () => number;
    let seen = activity();
    for (let quiet = 0; quiet < QUIET_TURNS && this.running; ) {
      await turn();
      const now = activity();
      quiet = now === seen ? quiet + 1 : 0;
      seen = now;
    }
  }
}
