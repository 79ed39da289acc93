/**
 * goip-command: sends one server command (docs/protocol.md#control-commands) to one line per input and passes the
 * input msg on with msg.payload = the parsed answer. A timeout, an error answer, bad arguments or
 * an unknown/offline line fail the input with done(err), so a Catch node sees the reason.
 */
import { commandName } from '../protocol';
import { CommandError, type CommandErrorCode } from '../link/commands';
import { findConfig } from './config-node';
import { failInput } from './input-error';
import type { Node, NodeAPI, NodeDef, NodeStatus } from './red';
import { NO_STATUS, nodeStatus } from './status';

/** How long the last result stays in the status once nothing is running. */
const RESULT_STATUS_MS = 3000;

/** The status reason of each CommandError code. */
const ERROR_STATUS_KEYS: Readonly<Record<CommandErrorCode, string>> = {
  timeout: 'goip-command.status.timeout',
  device: 'goip-command.status.device',
  offline: 'goip-command.status.offline',
  unknownLine: 'goip-command.status.unknownLine',
  input: 'goip-command.status.input',
  stopped: 'goip-command.status.stopped',
};

/** A text or number answer, shortened for the status; null for any other answer (shown as ok). */
function shortValue(value: unknown): string | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const text = String(value).replace(/\s+/g, ' ').trim();
  return text.length > 16 ? `${text.slice(0, 15)}…` : text === '' ? '""' : text;
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

    const busyStatus = (): NodeStatus => nodeStatus('busy', RED._('goip-command.status.busy', { running }));
    /** `label: outcome`, e.g. `get_gsm_num: +8613800000001` or `get_gsm_num: no answer`. */
    const outcome = (label: string, text: string): string => RED._('goip-command.status.outcome', { command: label, outcome: text });
    const showStatus = (status: NodeStatus): void => {
      if (clearTimer !== null) clearTimeout(clearTimer);
      clearTimer = null;
      if (!closed) node.status(status);
    };
    const finished = (status: NodeStatus): void => {
      running--;
      if (running > 0) return showStatus(busyStatus());
      showStatus(status);
      clearTimer = setTimeout(() => {
        clearTimer = null;
        if (!closed && running === 0) node.status(NO_STATUS);
      }, RESULT_STATUS_MS);
    };

    node.on('input', (msg, send, done) => {
      const client = config.commands;
      if (client === null) {
        const reason = config.statusText().text ?? RED._('goip-command.errors.notConfigured');
        failInput(done, RED._('goip-command.errors.notRunning', { reason }));
        return;
      }
      const command = fixedCommand !== '' ? fixedCommand : msg.command;
      const line = fixedLine !== '' ? fixedLine : msg.line;
      const label = (typeof command === 'string' ? commandName(command) : undefined) ?? RED._('goip-command.status.command');
      running++;
      showStatus(busyStatus());
      client.request(line as string, command as string, msg.payload).then(
        (value) => {
          msg.payload = value;
          finished(nodeStatus('ok', outcome(label, shortValue(value) ?? RED._('goip-command.status.ok'))));
          send(msg);
          done();
        },
        (err: Error) => {
          const reason = RED._(err instanceof CommandError ? ERROR_STATUS_KEYS[err.code] : 'goip-command.status.failed');
          finished(nodeStatus('failed', outcome(label, reason)));
          failInput(done, err);
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
