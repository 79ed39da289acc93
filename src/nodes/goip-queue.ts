/**
 * goip-queue: the operator's view of the send queue of one goip-config: status counts, cancel,
 * retry, block/unblock and the block list. The action comes from the node or msg.action; the
 * answer goes out as msg.payload; bad input fails with done(err) (catchable).
 */
import { checkRule, InputError, type NumberRule } from '../send/compose';
import { findConfig } from './config-node';
import { type ActionTexts, type QueueAction, queueAction, runQueueAction } from './goip-queue-actions';
import { failInput } from './input-error';
import type { Node, NodeAPI, NodeDef, NodeStatus } from './red';
import { nodeStatus } from './status';

export = function register(RED: NodeAPI): void {
  const texts: ActionTexts = {
    unknownAction: (action) => RED._('goip-queue.errors.unknownAction', { action }),
    needsTarget: () => RED._('goip-queue.errors.needsTarget'),
    needsBatch: () => RED._('goip-queue.errors.needsBatch'),
    unknownBatch: (batchId) => RED._('goip-queue.errors.unknownBatch', { batchId }),
    unknownMessage: (messageId) => RED._('goip-queue.errors.unknownMessage', { messageId }),
    needsNumbers: () => RED._('goip-queue.errors.needsNumbers'),
  };

  /** A short outcome for the status under the node. */
  function outcome(action: QueueAction, answer: Record<string, unknown>): NodeStatus {
    switch (action) {
      case 'status':
        return nodeStatus('ok', RED._('goip-queue.status.counts', { queued: answer.queued, claimed: answer.claimed }));
      case 'cancel':
        return nodeStatus('ok', RED._('goip-queue.status.cancelled', { cancelled: answer.cancelled, inFlight: answer.inFlight }));
      case 'retry':
        return nodeStatus('ok', RED._('goip-queue.status.retried', { queued: answer.queued }));
      case 'block':
        return nodeStatus('ok', RED._('goip-queue.status.blocked', { count: (answer.numbers as unknown[]).length }));
      case 'unblock':
        return nodeStatus('ok', RED._('goip-queue.status.unblocked', { count: answer.unblocked }));
      case 'blocked':
        return nodeStatus('ok', RED._('goip-queue.status.list', { count: (answer as unknown as unknown[]).length }));
    }
  }

  function GoipQueue(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const config = findConfig(RED, node, def);
    if (config === null) return;
    const fixedAction = String(def.action ?? '').trim();
    let rule: NumberRule | null = null;
    let ruleError = '';
    try {
      rule = checkRule({ country: String(def.country ?? ''), format: 'e164' });
    } catch (err) {
      ruleError = RED._('goip-queue.errors.badCountry', { reason: (err as Error).message });
      node.status(nodeStatus('failed', RED._('goip-queue.status.badCountry')));
      node.error(ruleError);
    }

    node.on('input', (msg, send, done) => {
      if (rule === null) return failInput(done, ruleError);
      const sending = config.sending;
      if (sending === null) {
        return failInput(done, RED._('goip-queue.errors.noQueue', { reason: config.sendingError ?? RED._('goip-queue.errors.noStore') }));
      }
      const fail = (err: unknown): void => {
        node.status(nodeStatus('failed', RED._('goip-queue.status.failed')));
        failInput(done, err instanceof InputError ? RED._('goip-queue.errors.badInput', { reason: err.message }) : (err as Error));
      };
      try {
        const action = queueAction(fixedAction !== '' ? fixedAction : msg.action, texts);
        runQueueAction(action, msg, sending, rule, texts).then((answer) => {
          node.status(outcome(action, answer as Record<string, unknown>));
          msg.payload = answer;
          send(msg);
          done();
        }, fail);
      } catch (err) {
        fail(err);
      }
    });
  }
  RED.nodes.registerType('goip-queue', GoipQueue);
};
