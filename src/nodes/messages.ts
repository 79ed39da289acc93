/** Device events as Node-RED messages. Pure. */
import type { Recipient } from '../outbox/types';
import type { GoipEvent } from '../link';
import type { NodeMessage } from './red';

/** `events` arrives as a comma list from the editor or as an array from hand-made flows. */
export function parseEventFilter(value: unknown): Set<string> | null {
  const names = (Array.isArray(value) ? value : String(value ?? '').split(','))
    .map((name) => String(name).trim().toLowerCase())
    .filter((name) => name !== '');
  return names.length === 0 ? null : new Set(names);
}

export function eventMessage(event: GoipEvent): NodeMessage {
  return message(event, goipFields(event, false), event.payload);
}

/**
 * The message of an inbox event (sms or delivery) with nothing shared with the event or another
 * goip-in's copy. Their values are flat, so a copy per level does what a deep clone would at a
 * fraction of its cost on the receive path.
 */
export function inboxMessage(event: GoipEvent): NodeMessage {
  const payload = typeof event.payload === 'object' && event.payload !== null ? { ...event.payload } : event.payload;
  return message(event, goipFields(event, true), payload);
}

function message(event: GoipEvent, goip: Record<string, unknown>, payload: unknown): NodeMessage {
  const msg: NodeMessage = { topic: `goip/${event.line}/${event.event}`, event: event.event, line: event.line, payload, goip };
  if (event.from !== undefined) msg.from = event.from;
  return msg;
}

/** msg.goip: the report's fields, and what the gateway adds; the event's own object when nothing is added and no copy is asked. */
function goipFields(event: GoipEvent, copy: boolean): Record<string, unknown> {
  if (!copy && event.parts === undefined && event.inboxId === undefined && event.inReplyTo === undefined) return event.fields;
  const goip: Record<string, unknown> = { ...event.fields };
  if (event.parts !== undefined) {
    goip.parts = event.parts;
    goip.reportIds = [...(event.reportIds ?? [])];
  }
  if (event.inboxId !== undefined) goip.inboxId = event.inboxId;
  if (event.inReplyTo !== undefined) goip.inReplyTo = { ...event.inReplyTo };
  return goip;
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
      parts: recipient.segments,
      encoding: recipient.encoding,
      batchId: recipient.batchId,
    },
    parts: { id: recipient.batchId, index: recipient.index, count: recipient.count, type: 'array', len: 1 },
  };
  const code = failureCode(recipient.error);
  if (code !== null) (msg.payload as Record<string, unknown>).code = code;
  if (typeof meta.topic === 'string') msg.topic = meta.topic;
  if (typeof meta._msgid === 'string') msg._msgid = meta._msgid;
  return msg;
}

/** The codes a recipient of a personalised batch fails with before it is queued; its error starts with one. */
const RECIPIENT_FAILURE_CODES = ['TEMPLATE_VAR', 'NOT_GSM7', 'TOO_LONG'];

function failureCode(error: string | null): string | null {
  const code = error?.slice(0, error.indexOf(':'));
  return code !== undefined && RECIPIENT_FAILURE_CODES.includes(code) ? code : null;
}
