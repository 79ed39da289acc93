/**
 * The +CMGS message-reference learner of one line: which TP-MR the module gave to which
 * recipient, and when. The recipient comes from what the GoIP wrote before (the SMS-SUBMIT PDU, or
 * a text-mode `AT+CMGS="<number>"`), the TP-MR from the module's `+CMGS: <mr>` after it.
 * Remembers the sends of one window, at most `maxSendsPerLine` of them.
 */
import { sameNumber } from '../../pdu';

/** One send learnt from the stream. */
export interface SendRecord {
  /** TP-MR from `+CMGS: <mr>`. */
  reference: number;
  /** From the written SMS-SUBMIT (or text-mode AT+CMGS), null when the stream did not show it. */
  recipient: string | null;
  /** When the `+CMGS:` was seen (ms epoch). */
  at: number;
}

export interface MessageReferenceLimits {
  /** How long a send is remembered (ms). */
  windowMs: number;
  /** Sends remembered at most. */
  maxSendsPerLine: number;
}

export class MessageReferences {
  /** Recipient of the SMS being sent (between AT+CMGS and +CMGS:), null unknown. */
  private pendingRecipient: string | null = null;
  /** Oldest first. */
  private readonly sends: SendRecord[] = [];

  constructor(private readonly limits: MessageReferenceLimits) {}

  /** The recipient of the SMS being sent as the stream shows it; null when unknown or the send failed. */
  sending(recipient: string | null): void {
    this.pendingRecipient = recipient;
  }

  /** `+CMGS: <reference>`: the SMS being sent went out. False for a reference no TP-MR can be. */
  sent(reference: number, now: number): boolean {
    if (reference > 255) return false;
    this.sends.push({ reference, recipient: this.pendingRecipient, at: now });
    this.pendingRecipient = null;
    this.prune(now);
    return true;
  }

  /** The newest send with `reference` to `recipient` (or to an unknown one) within the window. */
  find(reference: number, recipient: string, now: number): SendRecord | null {
    this.prune(now);
    const oldest = now - this.limits.windowMs;
    for (let i = this.sends.length - 1; i >= 0; i--) {
      const send = this.sends[i];
      if (send.at < oldest) break;
      if (send.reference !== reference) continue;
      if (send.recipient === null || sameNumber(send.recipient, recipient)) return send;
    }
    return null;
  }

  /** Oldest first (inspection, tests). */
  list(): SendRecord[] {
    return [...this.sends];
  }

  private prune(now: number): void {
    const oldest = now - this.limits.windowMs;
    let drop = Math.max(0, this.sends.length - this.limits.maxSendsPerLine);
    while (drop < this.sends.length && this.sends[drop].at < oldest) drop++;
    if (drop > 0) this.sends.splice(0, drop);
  }
}
