/** The numbers of one bulk session: the one being asked, resumed ones behind it, the telids used. */
import type { Recipient } from '../../outbox/types';
import { newTel, type Tel } from './tel';

export class SessionNumbers {
  private currentTel: Tel | null;
  /** Resumed numbers waiting behind the current one. */
  private readonly queue: Tel[];
  private nextTelId: number;
  /** Numbers the session took (toward numbersPerSession). */
  private takenCount: number;

  constructor(tels: readonly Tel[]) {
    this.currentTel = tels[0] ?? null;
    this.queue = tels.slice(1);
    const highest = tels.reduce((max, tel) => Math.max(max, tel.telId), 0);
    this.nextTelId = highest + 1;
    this.takenCount = highest;
  }

  get current(): Tel | null {
    return this.currentTel;
  }

  /** Numbers of the session not final yet. */
  get inFlight(): number {
    return (this.currentTel === null ? 0 : 1) + this.queue.length;
  }

  get taken(): number {
    return this.takenCount;
  }

  /** The telid the next claimed number gets. */
  get nextId(): number {
    return this.nextTelId;
  }

  /** The next resumed number becomes the current one; null when none waits. */
  advance(): Tel | null {
    const queued = this.queue.shift();
    if (queued === undefined) return null;
    this.currentTel = queued;
    return queued;
  }

  /** A number just claimed with nextId becomes the current one. */
  adopt(recipient: Recipient): Tel {
    const tel = newTel(recipient, this.nextTelId++, false, null);
    this.takenCount++;
    this.currentTel = tel;
    return tel;
  }

  /** The current number leaves the session (it has its outcome). */
  dropCurrent(): void {
    this.currentTel = null;
  }

  /** The number `telId` got its result: out of the session (null when unknown or stale). */
  take(telId: number): Tel | null {
    if (this.currentTel?.telId === telId) {
      const tel = this.currentTel;
      this.currentTel = null;
      return tel;
    }
    const index = this.queue.findIndex((tel) => tel.telId === telId);
    if (index === -1) return null;
    return this.queue.splice(index, 1)[0];
  }

  /** Every resumed number waiting behind the current one leaves the session. */
  takeQueued(): Tel[] {
    return this.queue.splice(0);
  }

  /** Every number leaves the session. */
  takeAll(): Tel[] {
    const tels = this.currentTel === null ? [] : [this.currentTel];
    tels.push(...this.queue.splice(0));
    this.currentTel = null;
    return tels;
  }
}
