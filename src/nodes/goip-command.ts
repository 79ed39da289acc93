/**
 * goip-command: sends one server command (seed sections 5-11) to one line per input and passes the
 * input msg on with msg.payload = the parsed answer. A timeout, an error answer, bad arguments or
 * an unknown/offline line fail the input with done(err), so a Catch node sees the reason.
 */
import { commandName } from '../protocol';
import { CommandError } from '../server/commands';
import { findConfig } from './config-node';
import type { Node, NodeAPI, NodeDef, NodeStatus } from './red';

/** How long the last result stays in the status once nothing is running. */
const RESULT_STATUS_MS = 3000;

const ERROR_STATUS: Readonly<Record<string, string>> = {
  timeout: 'no answer',
  device: 'error reply',
  offline: 'line offline',
  unknownLine: 'unknown line',
  input: 'bad input',
  stopped: 'stopped',
};

function shortValue(value: unknown): string {
  if (value === true) return 'ok';
  if (typeof value === 'string' || typeof value === 'number') {
    const text = String(value).replace(/\s+/g, ' ').trim();
    return text.length > 16 ? `${text.slice(0, 15)}…` : text === '' ? '""' : text;
  }
  return 'ok';
}

export = function register(RED: NodeAPI): void {
  function GoipCommand(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const config = findConfig(RED, node, def);
    if (config === null) return;
    const fixedCommand = String(def.command ?? '').trim();
    const fixedLine = String(def.line ?? '').trim();
    let running = 0;
    let closed = false;
    let clearTimer: NodeJS.Timeout | null = null;

    const showStatus = (status: NodeStatus | Record<string, never>): void => {
      if (clearTimer !== null) clearTimeout(clearTimer);
      clearTimer = null;
      if (!closed) node.status(status);
    };
    const finished = (status: NodeStatus): void => {
      running--;
      if (running > 0) return showStatus({ fill: 'blue', shape: 'dot', text: `busy ${running}` });
      showStatus(status);
      clearTimer = setTimeout(() => {
        clearTimer = null;
        if (!closed && running === 0) node.status({});
      }, RESULT_STATUS_MS);
    };

    node.on('input', (msg, send, done) => {
      const client = config.commands;
      if (client === null) {
        done(new Error(`goip-command: the GoIP server is not running (${config.statusText().text ?? 'not configured'})`));
        return;
      }
      const command = fixedCommand !== '' ? fixedCommand : msg.command;
      const line = fixedLine !== '' ? fixedLine : msg.line;
      const label = (typeof command === 'string' ? commandName(command) : undefined) ?? 'command';
      running++;
      showStatus({ fill: 'blue', shape: 'dot', text: `busy ${running}` });
      client.request(line as string, command as string, msg.payload).then(
        (value) => {
          msg.payload = value;
          finished({ fill: 'green', shape: 'dot', text: `${label}: ${shortValue(value)}` });
          send(msg);
          done();
        },
        (err: Error) => {
          const reason = err instanceof CommandError ? (ERROR_STATUS[err.code] ?? 'failed') : 'failed';
          finished({ fill: 'red', shape: 'ring', text: `${label}: ${reason}` });
          done(err);
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      if (clearTimer !== null) clearTimeout(clearTimer);
      clearTimer = null;
      done();
    });
  }
  RED.nodes.registerType('goip-command', GoipCommand);
};
