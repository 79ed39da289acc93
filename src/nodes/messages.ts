/** Device events as Node-RED messages. Pure. */
import type { Recipient } from '../outbox/types';
import type { GoipEvent } from '../server';
import type { NodeMessage } from './red';

/** `events` arrives as a comma list from the editor or as an array from hand-made flows. */
export function parseEventFilter(value: unknown): Set<string> | null {
  const names = (Array.isArray(value) ? value : String(value ?? '').split(','))
    .map((name) => String(name).trim().toLowerCase())
    .filter((name) => name !== '');
  return names.length === 0 ? null : new Set(names);
}

export function eventMessage(event: GoipEvent): NodeMessage {
  let goip: Record<string, unknown> = event.parts === undefined ? event.fields : { ...event.fields, parts: event.parts, reportIds: event.reportIds ?? [] };
  if (event.inboxId !== undefined) goip = { ...goip, inboxId: event.inboxId };
  if (event.inReplyTo !== undefined) goip = { ...goip, inReplyTo: event.inReplyTo };
  const msg: NodeMessage = {
    topic: `goip/${event.line}/${event.event}`,
    event: event.event,
    line: event.line,
    payload: event.payload,
    goip,
  };
  if (event.from !== undefined) msg.from = event.from;
  return msg;
}

/**
 * The message of an inbox event (sms or delivery) with nothing shared with the event or another
 * goip-in's copy. Their values are flat, so a copy per level does what a deep clone would at a
 * fraction of its cost on the receive path.
 */
export function inboxMessage(event: GoipEvent): NodeMessage {
  const msg = eventMessage(event);
  const goip = { ...(msg.goip as Record<string, unknown>) };
  if (Array.isArray(goip.reportIds)) goip.reportIds = [...(goip.reportIds as unknown[])];
  if (typeof goip.inReplyTo === 'object' && goip.inReplyTo !== null) goip.inReplyTo = { ...goip.inReplyTo };
  msg.goip = goip;
  if (typeof msg.payload === 'object' && msg.payload !== null) msg.payload = { ...msg.payload };
  return msg;
}

/** One goip-send result: the recipient's final state, with msg.parts so a join node rebuilds the batch. */
export function resultMessage(recipient: Recipient): NodeMessage {
  const meta = recipient.meta ?? {};
  const msg: NodeMessage = {
    payload: {
      messageId: recipient.messageId,
      to: recipient.number,
      line: recipient.line,
      status: recipient.state === 'queued' || recipient.state === 'claimed' ? 'failed' : recipient.state,
      smsNo: recipient.smsNo,
      error: recipient.error,
      attempts: recipient.attempts,
      segments: recipient.segments,
      encoding: recipient.encoding,
      batchId: recipient.batchId,
    },
    parts: { id: recipient.batchId, index: recipient.index, count: recipient.count, type: 'array', len: 1 },
  };
  if (typeof meta.topic === 'string') msg.topic = meta.topic;
  if (typeof meta._msgid === 'string') msg._msgid = meta._msgid;
  return msg;
}
