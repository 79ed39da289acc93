/**
 * The bulk session (docs/protocol.md#bulk-sequence) as a state/transition table. Per phase: the replies (in the
 * protocol's words) it acts on and the action each one takes; anything else is stale and ignored.
 *
 *   opening --PASSWORD--> authenticating --SEND--> sending --WAIT--> accepted --OK/ERROR--> next number
 *    (MSG)                 (PASSWORD)               (SEND)  \-----------OK/ERROR----------/   ... --> closing (DONE)
 */
import { BULK_SESSION_ERRORS, type BulkReply } from '../../protocol';

export type SessionPhase =
  /** MSG sent, waiting for `PASSWORD $sendid`. */
  | 'opening'
  /** PASSWORD sent, waiting for `SEND $sendid`. */
  | 'authenticating'
  /** SEND sent, waiting for WAIT/OK/ERROR. */
  | 'sending'
  /** SEND never answered: a last period for a late answer or a sign of life before failover. */
  | 'unanswered'
  /** The number is accepted: waiting for the pushed OK/ERROR, re-asking after long silence. */
  | 'accepted'
  /** Waiting for the line's pacing (minIntervalMs) before the next number. */
  | 'pacing'
  /** DONE sent. */
  | 'closing'
  /** The line is busy or unreachable: the session tries again later. */
  | 'backoff'
  | 'ended';

/** A device reply as the session tells them apart. */
export type SessionEvent =
  | 'PASSWORD'
  | 'SEND'
  | 'WAIT'
  | 'OK'
  | 'ERROR errorstatus'
  | 'ERROR too_many_sends_in_server'
  | 'ERROR PASSWORD'
  | 'ERROR SENDID'
  | 'ERROR GSM_LOGOUT'
  | 'ERROR other'
  | 'DONE';

export function sessionEvent(reply: BulkReply): SessionEvent {
  switch (reply.kind) {
    case 'passwordRequest':
      return 'PASSWORD';
    case 'ready':
      return 'SEND';
    case 'wait':
      return 'WAIT';
    case 'sent':
      return 'OK';
    case 'sendFailed':
      return 'ERROR errorstatus';
    case 'sessionError':
      return reply.error === 'other' ? 'ERROR other' : `ERROR ${BULK_SESSION_ERRORS[reply.error]}`;
    case 'done':
      return 'DONE';
  }
}

/** What a session does on a reply (BulkSession's method of that name). */
export type ReplyAction =
  /** Answer the line's PASSWORD request: on to authenticating. */
  | 'sendPassword'
  /** Authorized: ask the current number, or take the next one. */
  | 'authorized'
  /** WAIT answering the SEND step: the number is accepted (a round-trip sample). */
  | 'acceptStep'
  /** WAIT again (to a re-ask, or after a silence taken for acceptance). */
  | 'accept'
  /** OK / radio ERROR of one of its numbers while the session is between steps of its own. */
  | 'result'
  /** OK / radio ERROR while a number is awaited: then the next number. */
  | 'resultThenNext'
  /** `too_many_sends_in_server`: the line runs fewer sessions; ask again later. */
  | 'backoffBusy'
  /** The bulk password was refused: park the line, its numbers leave. */
  | 'refusedPassword'
  /** The line forgot the session (or never authorized it): open it again under the same sendid. */
  | 'reopen'
  /** The line lost the GSM network: park it, its numbers leave. */
  | 'loggedOut'
  /** The line refused the MSG itself (e.g. its length): its numbers fail. */
  | 'refusedMessage'
  /** DONE answered: the session is released. */
  | 'closed'
  /** The session is over on the line without more ado. */
  | 'end';

/** What a session does when its step went unanswered for good. */
export type NoAnswerAction = 'openUnanswered' | 'sendUnanswered' | 'end';

const RESULT_ASIDE = { OK: 'result', 'ERROR errorstatus': 'result' } as const;

/** While a number is awaited (sending, unanswered, accepted). */
const NUMBER_AWAITED = {
  OK: 'resultThenNext',
  'ERROR errorstatus': 'resultThenNext',
  'ERROR PASSWORD': 'reopen',
  'ERROR SENDID': 'reopen',
  'ERROR GSM_LOGOUT': 'loggedOut',
} as const;

export const ON_REPLY: Readonly<Record<SessionPhase, Readonly<Partial<Record<SessionEvent, ReplyAction>>>>> = {
  opening: {
    PASSWORD: 'sendPassword',
    SEND: 'authorized',
    ...RESULT_ASIDE,
    'ERROR too_many_sends_in_server': 'backoffBusy',
    'ERROR GSM_LOGOUT': 'loggedOut',
    'ERROR other': 'refusedMessage',
  },
  authenticating: {
    SEND: 'authorized',
    ...RESULT_ASIDE,
    'ERROR PASSWORD': 'refusedPassword',
    'ERROR SENDID': 'reopen',
    'ERROR GSM_LOGOUT': 'loggedOut',
  },
  sending: { WAIT: 'acceptStep', ...NUMBER_AWAITED },
  unanswered: { WAIT: 'accept', ...NUMBER_AWAITED },
  accepted: { WAIT: 'accept', ...NUMBER_AWAITED },
  pacing: { ...RESULT_ASIDE, 'ERROR GSM_LOGOUT': 'loggedOut' },
  closing: { DONE: 'closed', ...RESULT_ASIDE, 'ERROR SENDID': 'end', 'ERROR GSM_LOGOUT': 'end' },
  backoff: { ...RESULT_ASIDE, 'ERROR GSM_LOGOUT': 'loggedOut' },
  ended: {},
};

/** The phases with a step out (MSG, PASSWORD, SEND, DONE) and what its silence leads to. */
export const ON_NO_ANSWER: Readonly<Partial<Record<SessionPhase, NoAnswerAction>>> = {
  opening: 'openUnanswered',
  authenticating: 'openUnanswered',
  sending: 'sendUnanswered',
  closing: 'end',
};
