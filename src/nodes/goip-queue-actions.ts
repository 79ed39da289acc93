/**
 * The actions of goip-queue over the gateway's SendingService: each takes the input msg and
 * returns the answer (msg.payload out), or throws an InputError with a reason the user can act
 * on. Pure apart from the service.
 */
import type { SendingService } from '../gateway';
import type { QueueTarget } from '../outbox/types';
import { InputError, normalizeNumber, type NumberRule, parseRecipients } from '../send/compose';
import type { NodeMessage } from './red';

const QUEUE_ACTIONS = ['status', 'cancel', 'retry', 'block', 'unblock', 'blocked'] as const;
export type QueueAction = (typeof QUEUE_ACTIONS)[number];

/** The texts an action's errors need, translated by the node (RED._). */
export interface ActionTexts {
  unknownAction(action: string): string;
  needsTarget(): string;
  needsBatch(): string;
  unknownBatch(batchId: string): string;
  unknownMessage(messageId: string): string;
  needsNumbers(): string;
}

export function queueAction(value: unknown, texts: ActionTexts): QueueAction {
  const action = String(value ?? '').trim().toLowerCase();
  if (!(QUEUE_ACTIONS as readonly string[]).includes(action)) throw new InputError(texts.unknownAction(String(value ?? '')));
  return action as QueueAction;
}

function optionalId(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const id = String(value).trim();
  return id === '' ? undefined : id;
}

export async function runQueueAction(action: QueueAction, msg: NodeMessage, sending: SendingService, rule: NumberRule, texts: ActionTexts): Promise<unknown> {
  const batchId = optionalId(msg.batchId);
  const messageId = optionalId(msg.messageId);
  switch (action) {
    case 'status': {
      const status = await sending.status(batchId);
      if (status === null) throw new InputError(texts.unknownBatch(batchId as string));
      return status;
    }
    case 'cancel': {
      const target: QueueTarget | null = batchId !== undefined ? { batchId } : messageId !== undefined ? { messageId } : null;
      if (target === null) throw new InputError(texts.needsTarget());
      const answer = await sending.cancel(target);
      if (answer === null) throw new InputError(batchId !== undefined ? texts.unknownBatch(batchId) : texts.unknownMessage(messageId as string));
      return { ...target, ...answer };
    }
    case 'retry': {
      if (batchId === undefined) throw new InputError(texts.needsBatch());
      const answer = await sending.retry(batchId);
      if (answer === null) throw new InputError(texts.unknownBatch(batchId));
      return { batchId, ...answer };
    }
    case 'block': {
      const numbers = numbersOf(msg.payload, rule, texts);
      return { numbers, blocked: await sending.block(numbers) };
    }
    case 'unblock': {
      const numbers = numbersOf(msg.payload, rule, texts);
      return { numbers, unblocked: await sending.unblock(numbers) };
    }
    case 'blocked':
      return sending.blocked();
  }
}

/** msg.payload as numbers, normalised like goip-send's recipients (duplicates removed). */
function numbersOf(payload: unknown, rule: NumberRule, texts: ActionTexts): string[] {
  const raw = parseRecipients(payload);
  if (raw.length === 0) throw new InputError(texts.needsNumbers());
  return [...new Set(raw.map((number) => normalizeNumber(number, rule)))];
}
