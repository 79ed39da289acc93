/**
 * goip-send: validates the input, stores every recipient durably, acknowledges the input, and
 * sends one message per recipient when it reaches a final state (sent, failed, expired,
 * cancelled or blocked), again after a restart when the flow had not finished with it.
 */
import { checkRule, InputError, type NumberFormat, type NumberRule } from '../send/compose';
import { findConfig } from './config-node';
import { failInput } from './input-error';
import { resultMessage } from './messages';
import type { Node, NodeAPI, NodeDef, NodeMessage } from './red';
import { sharedHandover } from './result-handover';
import { sendInputs } from './send-inputs';
import { nodeStatus } from './status';

const STATUS_INTERVAL_MS = 250;

export = function register(RED: NodeAPI): void {
  const handover = sharedHandover(RED.hooks);

  function GoipSend(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const config = findConfig(RED, node, def);
    if (config === null) return;
    let rule: NumberRule | null = null;
    let ruleError = '';
    try {
      rule = checkRule({ country: String(def.country ?? ''), format: (String(def.numberFormat ?? '') || 'e164') as NumberFormat });
    } catch (err) {
      ruleError = RED._('goip-send.errors.badRule', { reason: (err as Error).message });
      node.status(nodeStatus('failed', RED._('goip-send.status.badRule')));
      node.error(ruleError);
    }

    const sending = config.sending;
    let statusTimer: NodeJS.Timeout | null = null;
    const showStatus = (): void => {
      statusTimer = null;
      if (sending === null) {
        node.status(nodeStatus('failed', config.sendingError ?? RED._('goip-send.status.noQueue')));
        return;
      }
      sending.pending().then(
        ({ queued, claimed }) => {
          if (queued + claimed === 0) node.status(nodeStatus('ok', RED._('goip-send.status.idle')));
          else node.status(nodeStatus('busy', RED._('goip-send.status.pending', { queued, sending: claimed })));
        },
        (err: Error) => node.status(nodeStatus('failed', RED._('goip-send.status.storeFailed', { reason: err.message }))),
      );
    };
    const scheduleStatus = (): void => {
      statusTimer ??= setTimeout(showStatus, STATUS_INTERVAL_MS);
    };
    if (rule !== null) showStatus();

    const stopResults = sending?.onResult(node.id, (recipient, taken) => {
      const msg = resultMessage(recipient);
      msg._msgid ??= RED.util.generateId();
      handover.send(msg as NodeMessage & { _msgid: string }, () => node.send(msg), taken);
      scheduleStatus();
    });
    const stopProgress = sending?.onProgress(scheduleStatus);

    const fromNode = (property: string, msg: NodeMessage): unknown => {
      const value = def[property];
      // A property left empty (or blank) in the editor leaves the input to the message.
      if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return undefined;
      return RED.util.evaluateNodeProperty(value, String(def[`${property}Type`] ?? 'str'), node, msg);
    };

    node.on('input', (msg, _send, done) => {
      if (rule === null) return failInput(done, ruleError);
      if (sending === null) {
        return failInput(done, RED._('goip-send.errors.noQueue', { reason: config.sendingError ?? RED._('goip-send.errors.noStore') }));
      }
      const fail = (err: unknown): void => failInput(done, err instanceof InputError ? badInput(err) : (err as Error));
      try {
        const meta: Record<string, unknown> = { _msgid: msg._msgid };
        if (typeof msg.topic === 'string') meta.topic = msg.topic;
        sending.submit({ owner: node.id, rule, meta, ...sendInputs(msg, fromNode) }).then(() => {
          scheduleStatus();
          done();
        }, fail);
      } catch (err) {
        fail(err);
      }
    });

    /** The reason in the node's words, its code (NOT_GSM7, TOO_LONG) kept for msg.error.code. */
    function badInput(err: InputError): Error {
      const error = new Error(RED._('goip-send.errors.badInput', { reason: err.message }));
      if (err.code !== undefined) Object.assign(error, { code: err.code });
      return error;
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      if (statusTimer !== null) clearTimeout(statusTimer);
      stopResults?.();
      stopProgress?.();
      done();
    });
  }
  RED.nodes.registerType('goip-send', GoipSend);
};
