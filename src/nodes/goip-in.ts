/** goip-in: device events of one goip-config as messages, filtered by event and line. */
import { findConfig } from './config-node';
import { eventMessage, parseEventFilter } from './messages';
import type { Node, NodeAPI, NodeDef } from './red';

export = function register(RED: NodeAPI): void {
  function GoipIn(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const config = findConfig(RED, node, def);
    if (config === null) return;
    const events = parseEventFilter(def.events);
    const line = String(def.line ?? '').trim();
    config.register(node);
    const unsubscribe = config.subscribe((event) => {
      if (events !== null && !events.has(event.event)) return;
      if (line !== '' && event.line !== line) return;
      // Its own copy: a flow that changes msg.payload or msg.goip never reaches another node's.
      node.send(RED.util.cloneMessage(eventMessage(event)));
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      unsubscribe();
      config.deregister(node);
      done();
    });
  }
  RED.nodes.registerType('goip-in', GoipIn);
};
