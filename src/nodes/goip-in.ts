/**
 * goip-in: device events of one goip-config as messages, filtered by event and line. With the
 * inbox on, sms and delivery messages come from it, followed through the flow until taken: at
 * least once, again after a kill -9 or to a goip-in deployed later (src/gateway/inbox).
 */
import { inboxKindsOf } from '../gateway/inbox/inbox-consumers';
import { findConfig } from './config-node';
import { eventMessage, inboxMessage, parseEventFilter } from './messages';
import type { Node, NodeAPI, NodeDef, NodeMessage } from './red';
import { sharedHandover } from './result-handover';

export = function register(RED: NodeAPI): void {
  const handover = sharedHandover(RED.hooks);

  function GoipIn(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const config = findConfig(RED, node, def);
    if (config === null) return;
    const events = parseEventFilter(def.events);
    const line = String(def.line ?? '').trim();
    config.register(node);
    const unsubscribe = config.subscribe((event) => {
      if (event.inboxId !== undefined) return; // it comes through the inbox below
      if (events !== null && !events.has(event.event)) return;
      if (line !== '' && event.line !== line) return;
      // Its own copy: a flow that changes msg.payload or msg.goip never reaches another node's.
      node.send(RED.util.cloneMessage(eventMessage(event)));
    });
    const kinds = inboxKindsOf(events);
    const inbox = config.gateway?.inbox ?? null;
    const unfollow =
      inbox === null || kinds?.length === 0
        ? () => undefined
        : inbox.consumers.follow(node.id, { kinds, line: line === '' ? null : line }, (event, redelivered, taken) => {
            const msg = inboxMessage(event) as NodeMessage & { _msgid: string; goip: Record<string, unknown> };
            if (redelivered) msg.goip.redelivered = true;
            msg._msgid = RED.util.generateId();
            handover.send(msg, () => node.send(msg), taken);
          });
    node.on('close', (_removed: boolean, done: () => void) => {
      unsubscribe();
      unfollow();
      config.deregister(node);
      done();
    });
  }
  RED.nodes.registerType('goip-in', GoipIn);
};
