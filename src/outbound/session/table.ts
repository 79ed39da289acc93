/**
 * The bulk session (docs/protocol.md#bulk-sequence) as a state/transition table: per phase, the
 * events it acts on (the line's replies in the protocol's words, and the session's own: its start,
 * a step's silence, its timers, its stop), the action each one takes (BulkSession's method of that
 * name, or for a line that refuses or stays silent the function of that name in ./setbacks) and
 * the phases the action may leave it in. Anything else is stale and ignored. A phase
 * changes only by a row of this table (BulkSession.enter checks it; test/outbound/session.test.ts
 * walks every row).
 *
 *   opening --PASSWORD--> authenticating --SEND--> sending --WAIT--> accepted --OK/ERROR--> next number
 *    (MSG)                 (PASSWORD)               (SEND)  \-----------OK/ERROR----------/   ... --> closing (DONE)
 *
 * A number is claimed in the store before its SEND (claiming, until the store answers): before the
 * next number, and before the PASSWORD of a session that opened without one.
 */
import { BULK_SESSION_ERRORS, type BulkReply } from '../../protocol';

export type SessionPhase =
  /** MSG sent, waiting for `PASSWORD $sendid`. */
  | 'opening'
  /** PASSWORD sent, waiting for `SEND $sendid`. */
  | 'authenticating'
  /** Waiting for the store's claim of its next number (its SEND, or its PASSWORD, goes after it). */
  | 'claiming'
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
export type ReplyEvent =
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

/** What happens to a session besides the line's replies. */
export type SessionSignal =
  /** The engine starts the session (fresh, claimless or resumed). */
  | 'start'
  /** The store answered its claim (a number, or none). */
  | 'claimed'
  /** Its step (MSG, PASSWORD, SEND, DONE) went unanswered for good. */
  | 'no answer'
  /** The last period after an unanswered SEND is over. */
  | 'grace over'
  /** Its accepted number had no result for acceptedTimeoutMs. */
  | 'result overdue'
  /** The line's pacing before the next number is over. */
  | 'paced'
  /** The backoff is over, or the line came online. */
  | 'backoff over'
  /** The engine stops: claimed numbers stay claimed. */
  | 'stop';

export type SessionEvent = ReplyEvent | SessionSignal;

export function sessionEvent(reply: BulkReply): ReplyEvent {
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

/** What a session does on an event (BulkSession's method of that name, or ./setbacks' SETBACKS entry). */
export type SessionAction =
  /** Open with MSG, or re-ask a resumed session's numbers (SEND only), or wait for the line. */
  | 'begin'
  /** Answer the line's PASSWORD request: on to authenticating. */
  | 'sendPassword'
  /** Authorized: ask the current number, or take the next one. */
  | 'authorized'
  /** The claim is answered: ask the number, close without one, or go on authenticating. */
  | 'tookClaim'
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
  | 'end'
  /** MSG or PASSWORD never answered: a live line is asked again later, a silent one left. */
  | 'openUnanswered'
  /** SEND never answered: taken as accepted if the line is alive, else a last period. */
  | 'sendUnanswered'
  /** After the last period: accepted if the line was heard, else its numbers leave. */
  | 'unansweredAfterGrace'
  /** No result for too long: the number fails, the others leave, the session closes. */
  | 'silentAfterAccepting'
  /** Pacing over: on with the number that waited for it. */
  | 'afterPacing'
  /** Backoff over: open again or re-ask, or leave the line. */
  | 'retryAfterBackoff'
  /** Timers forgotten, the session over. */
  | 'halt';

export interface Transition {
  readonly action: SessionAction;
  /** The phases the action may leave the session in (what it finds decides which). */
  readonly next: readonly SessionPhase[];
}

const go = (action: SessionAction, ...next: SessionPhase[]): Transition => ({ action, next });

/** After a number got its outcome: the next one is asked, waits for pacing, or the session closes. */
const ON_TO_NEXT: readonly SessionPhase[] = ['claiming', 'sending', 'pacing', 'closing'];
const REOPEN = go('reopen', 'opening', 'ended');
const LOGGED_OUT = go('loggedOut', 'ended');

/** OK / radio ERROR of another of its numbers: the phase stays. */
function resultAside(phase: SessionPhase): Partial<Record<SessionEvent, Transition>> {
  const result = go('result', phase);
  return { OK: result, 'ERROR errorstatus': result };
}

/** While a number is awaited (sending, unanswered, accepted). */
function numberAwaited(phase: SessionPhase): Partial<Record<SessionEvent, Transition>> {
  const result = go('resultThenNext', phase, ...ON_TO_NEXT);
  return { OK: result, 'ERROR errorstatus': result, 'ERROR PASSWORD': REOPEN, 'ERROR SENDID': REOPEN, 'ERROR GSM_LOGOUT': LOGGED_OUT };
}

const ROWS: Record<SessionPhase, Partial<Record<SessionEvent, Transition>>> = {
  opening: {
    start: go('begin', 'opening', 'backoff', ...ON_TO_NEXT),
    PASSWORD: go('sendPassword', 'authenticating', 'claiming'),
    SEND: go('authorized', ...ON_TO_NEXT),
    ...resultAside('opening'),
    'ERROR too_many_sends_in_server': go('backoffBusy', 'backoff'),
    'ERROR GSM_LOGOUT': LOGGED_OUT,
    'ERROR other': go('refusedMessage', 'ended'),
    'no answer': go('openUnanswered', 'backoff', 'ended'),
  },
  authenticating: {
    SEND: go('authorized', ...ON_TO_NEXT),
    ...resultAside('authenticating'),
    'ERROR PASSWORD': go('refusedPassword', 'ended'),
    'ERROR SENDID': REOPEN,
    'ERROR GSM_LOGOUT': LOGGED_OUT,
    'no answer': go('openUnanswered', 'backoff', 'ended'),
  },
  claiming: {
    claimed: go('tookClaim', 'authenticating', 'sending', 'closing'),
    ...resultAside('claiming'),
  },
  sending: {
    WAIT: go('acceptStep', 'sending', 'accepted'),
    ...numberAwaited('sending'),
    'no answer': go('sendUnanswered', 'accepted', 'unanswered'),
  },
  unanswered: {
    WAIT: go('accept', 'unanswered', 'accepted'),
    ...numberAwaited('unanswered'),
    'grace over': go('unansweredAfterGrace', 'accepted', 'ended'),
  },
  accepted: {
    WAIT: go('accept', 'accepted'),
    ...numberAwaited('accepted'),
    'result overdue': go('silentAfterAccepting', 'closing'),
  },
  pacing: {
    ...resultAside('pacing'),
    'ERROR GSM_LOGOUT': LOGGED_OUT,
    paced: go('afterPacing', ...ON_TO_NEXT),
  },
  closing: {
    DONE: go('closed', 'ended'),
    ...resultAside('closing'),
    'ERROR SENDID': go('end', 'ended'),
    'ERROR GSM_LOGOUT': go('end', 'ended'),
    'no answer': go('end', 'ended'),
  },
  backoff: {
    ...resultAside('backoff'),
    'ERROR GSM_LOGOUT': LOGGED_OUT,
    'backoff over': go('retryAfterBackoff', 'opening', 'backoff', 'ended', ...ON_TO_NEXT),
  },
  ended: {},
};

const STOP = go('halt', 'ended');

/** phase x event -> {action, next}; a stop is a row of every phase. */
export const SESSION_TABLE: Readonly<Record<SessionPhase, Readonly<Partial<Record<SessionEvent, Transition>>>>> = Object.fromEntries(
  Object.entries(ROWS).map(([phase, row]) => [phase, { ...row, stop: STOP }]),
) as Record<SessionPhase, Partial<Record<SessionEvent, Transition>>>;
