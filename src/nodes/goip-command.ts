/** goip-command: not implemented in this version. It says so in its status and rejects every input. */
import type { Node, NodeAPI, NodeDef } from './red';

export = function register(RED: NodeAPI): void {
  function GoipCommand(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    this.status({ fill: 'grey', shape: 'ring', text: 'not available yet' });
    this.on('input', (_msg, _send, done) => {
      done(new Error('goip-command is not available yet in this version of the package'));
    });
  }
  RED.nodes.registerType('goip-command', GoipCommand);
};
