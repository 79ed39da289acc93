/**
 * Opt-out by SMS: an incoming SMS whose whole text (trimmed, any case) is an opt-out keyword puts
 * its sender on the block list (durably), an opt-in keyword takes it off; either becomes an
 * `optout` / `optin` event `{number, keyword, line}` beside the `sms` event.
 */
import type { GoipEvent } from '../link';
import type { SendingService } from './sending';

export const DEFAULT_OPT_OUT_KEYWORDS: readonly string[] = ['STOP', 'UNSUBSCRIBE', '退订', 'TD'];
export const DEFAULT_OPT_IN_KEYWORDS: readonly string[] = ['START'];

export interface OptOutPayload {
  number: string;
  /** The configured keyword the text matched. */
  keyword: string;
  line: string;
}

function canonical(text: string): string {
  return text.trim().toLocaleUpperCase('en-US');
}

export class OptOutKeywords {
  private readonly keywords = new Map<string, { event: 'optout' | 'optin'; keyword: string }>();

  constructor(optOut: readonly string[], optIn: readonly string[]) {
    for (const keyword of optIn) this.keywords.set(canonical(keyword), { event: 'optin', keyword });
    // A word in both lists opts out: the safe reading.
    for (const keyword of optOut) this.keywords.set(canonical(keyword), { event: 'optout', keyword });
  }

  /** What an SMS with `text` asks for, null when it is no keyword. */
  match(text: string): { event: 'optout' | 'optin'; keyword: string } | null {
    return this.keywords.get(canonical(text)) ?? null;
  }

  /**
   * For an `sms` event that is a keyword: blocks or unblocks its sender through `sending` and
   * resolves with the optout/optin event once the block list has it; null for any other event.
   */
  async apply(event: GoipEvent, sending: SendingService): Promise<GoipEvent | null> {
    if (event.event !== 'sms' || typeof event.payload !== 'string' || event.from === undefined || event.from.trim() === '') return null;
    const found = this.match(event.payload);
    if (found === null) return null;
    const number = event.from.trim();
    if (found.event === 'optout') await sending.block([number], { keyword: found.keyword, line: event.line });
    else await sending.unblock([number]);
    const payload: OptOutPayload = { number, keyword: found.keyword, line: event.line };
    // Not an inbox message itself: without the inbox fields goip-in emits it as a plain event.
    const { inboxId: _inboxId, inReplyTo: _inReplyTo, receipt: _receipt, ...rest } = event;
    return { ...rest, event: found.event, payload };
  }
}
