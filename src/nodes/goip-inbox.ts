/**
 * goip-inbox: history of what the inbox stored (received SMS and delivery reports), newest first,
 * a page per input: msg.payload the filters in, the items out, msg.next the cursor of the next
 * page. A bad filter fails with done(err) (msg.error.code 'input').
 */
import { findConfig, inboxOf } from './config-node';
import { failInput } from './input-error';
import type { Node, NodeAPI, NodeDef } from './red';

export = function register(RED: NodeAPI): void {
  function GoipInbox(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const config = findConfig(RED, node, def);
    if (config === null) return;
    config.register(node);
    node.on('input', (msg, send, done) => {
      const inbox = inboxOf(RED, config);
      if (typeof inbox === 'string') return failInput(done, Object.assign(new Error(inbox), { code: 'unavailable' }));
      inbox.query(msg.payload).then(
        (page) => {
          msg.payload = page.items;
          if (page.next === undefined) delete msg.next;
          else msg.next = page.next;
          send(msg);
          done();
        },
        (err: Error) => failInput(done, err),
      );
    });
    node.on('close', (_removed: boolean, done: () => void) => {
      config.deregister(node);
      done();
    });
  }
  RED.nodes.registerType('goip-inbox', GoipInbox);
};
