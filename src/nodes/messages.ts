/** Device events as Node-RED messages. Pure. */
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
  const msg: NodeMessage = {
    topic: `goip/${event.line}/${event.event}`,
    event: event.event,
    line: event.line,
    payload: event.payload,
    goip: event.fields,
  };
  if (event.from !== undefined) msg.from = event.from;
  return msg;
}
