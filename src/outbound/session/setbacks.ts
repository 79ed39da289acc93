/**
 * The session table's actions for a line that refuses, forgets, is busy or stays silent
 * (docs/protocol.md#bulk-sms-session): what becomes of the session's numbers, and whether the
 * session tries again, waits or gives the line up. They act on their session through
 * SessionInside, the part of BulkSession (./session) they need; the phase still changes only
 * through its `enter`.
 */
import type { BulkReply } from '../../protocol';
import type { ResultWait } from '../lines/result-wait';
import { FAILURE } from '../lines/policy';
import { mayBeOnRadio, type SessionNumbers, type Tel } from './numbers';
import type { LineSession, SessionPorts } from './ports';
import type { SessionSteps } from './steps';
import type { SessionAction, SessionEvent, SessionPhase } from './table';

/** Consecutive session opens without progress before the session gives up on its line. */
export const MAX_OPEN_ROUNDS = 3;

/** What a setback needs of its session. */
export interface SessionInside {
  /** The session as the engine knows it. */
  readonly session: LineSession;
  readonly ports: SessionPorts;
  readonly line: string;
  readonly numbers: SessionNumbers;
  readonly steps: SessionSteps;
  readonly wait: ResultWait;
  /** Opens in a row without progress. */
  openRounds: number;
  /** What the session does once its backoff is over. */
  readonly afterBackoff: 'open' | 'proceed';
  enter(phase: SessionPhase): void;
  on(event: SessionEvent): void;
  open(): void;
  proceed(): void;
  close(): void;
  /** The session is over: its timer forgotten, the engine told. */
  end(): void;
  backoff(then: 'open' | 'proceed'): void;
  /** The session ends on its line: numbers that may be on the radio are watched, the rest leave. */
  abandon(reason: string): void;
  /** A number leaves the session: watched if it may be on the radio, else given up with `reason`. */
  release(tel: Tel, reason: string): void;
}

export type SetbackAction = Extract<
  SessionAction,
  | 'backoffBusy'
  | 'refusedPassword'
  | 'loggedOut'
  | 'refusedMessage'
  | 'reopen'
  | 'openUnanswered'
  | 'sendUnanswered'
  | 'unansweredAfterGrace'
  | 'silentAfterAccepting'
  | 'retryAfterBackoff'
>;

/** When `tel` was first asked (its SEND step's start for one never asked before it). */
const askedAt = (s: SessionInside, tel: Tel): number => tel.firstAskedAt ?? s.steps.startedAt;

/**
 * Whether the line is alive is judged by what came from it after the first step timeout: by
 * then anything it sent before our first try has arrived, so it cannot pass for a sign of life.
 */
const evidenceSince = (s: SessionInside, firstTryAt: number): number => firstTryAt + s.ports.options.stepTimeoutMs;

function treatAsAccepted(s: SessionInside, tel: Tel, at: number): void {
  tel.accepted = true;
  tel.acceptedAt ??= at;
  s.enter('accepted');
}

/** The current number leaves the session, failed with `reason` (its result unknown: it may have gone out). */
function failCurrent(s: SessionInside, reason: string): void {
  const tel = s.numbers.current as Tel;
  s.numbers.dropCurrent();
  s.ports.outcomes.fail(tel, reason);
}

export const SETBACKS: Readonly<Record<SetbackAction, (s: SessionInside, reply: BulkReply) => void>> = {
  backoffBusy(s) {
    s.ports.gate.busy(s.session);
    s.openRounds = 0; // a busy line answers: that is no reason to give up on it
    s.backoff('open');
  },

  refusedPassword(s) {
    s.ports.gate.park(s.line, 'password');
    s.abandon(FAILURE.passwordRefused);
  },

  loggedOut(s) {
    s.ports.gate.park(s.line, 'gsmLogout');
    s.abandon(FAILURE.gsmLogout);
  },

  refusedMessage(s, reply) {
    const text = reply.kind === 'sessionError' ? reply.text : '';
    for (const tel of s.numbers.takeAll()) s.ports.outcomes.fail(tel, `line refused the message: ${text}`);
    s.end();
  },

  /**
   * Opens the session again under the same sendid, so the outbox's (line, sendid, telid) stay
   * true. An accepted number cannot be re-asked in it (the line would queue it again), and the
   * line that forgot the session will push no result for it: it fails at once. A number never
   * accepted is asked again with its own telid (after a restart this is the documented
   * at-least-once case).
   */
  reopen(s) {
    if (s.numbers.current?.accepted === true) failCurrent(s, FAILURE.forgotAfterAccepting);
    if (s.openRounds >= MAX_OPEN_ROUNDS) return s.abandon(FAILURE.noLineAccepted);
    s.open();
  },

  /** MSG or PASSWORD never answered. Nothing was sent: a live line is asked again later. */
  openUnanswered(s) {
    s.ports.gate.handshakeUnanswered(s.line);
    const since = evidenceSince(s, s.steps.startedAt);
    const heard = s.ports.link.heardSince(s.line, since);
    if (heard && s.openRounds < MAX_OPEN_ROUNDS && s.ports.gate.mayReopen(s.session)) {
      // The line has to earn work again: numbers it never sent go to lines that answer.
      for (const tel of s.numbers.takeAll()) s.release(tel, FAILURE.noLineAccepted);
      return s.backoff('open');
    }
    if (!heard) s.ports.gate.silent(s.line, since);
    s.abandon(FAILURE.noLineAccepted);
  },

  /**
   * SEND never answered. A line heard meanwhile is alive and may have queued the number (its
   * answers lost): it counts as accepted. A silent line gets one recheck period more for a late
   * answer or any sign of life (a SEND held up in the network can still reach it and go out);
   * only then does the number move to another line.
   */
  sendUnanswered(s) {
    const tel = s.numbers.current as Tel;
    const at = askedAt(s, tel);
    if (mayBeOnRadio(tel) || s.ports.link.heardSince(s.line, evidenceSince(s, at))) {
      treatAsAccepted(s, tel, at);
      return s.wait.start(tel);
    }
    s.enter('unanswered');
    s.steps.timer.arm(s.ports.options.waitRecheckMs, () => s.on('grace over'));
  },

  /** The current number is still the unanswered one: whatever changes it also leaves the phase. */
  unansweredAfterGrace(s) {
    const tel = s.numbers.current as Tel;
    const at = askedAt(s, tel);
    const since = evidenceSince(s, at);
    if (s.ports.link.heardSince(s.line, since)) {
      treatAsAccepted(s, tel, at);
      return s.wait.recheck(tel);
    }
    s.ports.gate.silent(s.line, since);
    s.abandon(FAILURE.noLineAccepted);
  },

  /** No result for acceptedTimeoutMs: the line is silent, hand it nothing more in this session. */
  silentAfterAccepting(s) {
    failCurrent(s, FAILURE.silentAfterAccepting);
    for (const queued of s.numbers.takeQueued()) s.release(queued, FAILURE.silentAfterAccepting);
    s.close();
  },

  retryAfterBackoff(s) {
    const tel = s.numbers.current;
    if (tel !== null && mayBeOnRadio(tel) && s.ports.clock.now() - (tel.acceptedAt ?? 0) >= s.ports.options.acceptedTimeoutMs) {
      failCurrent(s, FAILURE.silentAfterAccepting);
    }
    if (s.ports.gate.mayReopen(s.session)) {
      if (s.afterBackoff === 'open') return s.open();
      return s.proceed();
    }
    const offline = !s.ports.link.online(s.line);
    if (offline && tel !== null && s.numbers.current === tel && !mayBeOnRadio(tel) && tel.recipient.pinnedLine === null) {
      // It never left: another line takes it while this one is away.
      return s.abandon(FAILURE.lineOffline);
    }
    s.backoff(s.afterBackoff);
  },
};

export const isSetback = (action: SessionAction): action is SetbackAction => action in SETBACKS;
