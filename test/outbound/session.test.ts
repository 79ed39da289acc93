/**
 * The bulk session's table, walked row by row: a session is brought to each phase through the
 * protocol (fake ports, a manual clock), the row's event is fired (a reply, or the timer that
 * stands for a silence, a pacing or a backoff), and the phase it lands in must be one the row
 * names. Each row runs on a line that answers and on one that is silent, offline and paced, so
 * both ends of its data-dependent branches are taken.
 */
import assert from 'node:assert/strict';
import type { Recipient } from '../../src/outbox/types';
import { resolveBulkOptions } from '../../src/outbound/options';
import type { SessionPorts } from '../../src/outbound/session/ports';
import { BulkSession } from '../../src/outbound/session/session';
import { SESSION_TABLE, type SessionEvent, type SessionPhase } from '../../src/outbound/session/table';
import type { BulkReply } from '../../src/protocol';

const SEND_ID = 7;
const OPTIONS = resolveBulkOptions({ stepTimeoutMs: 1_000, stepRetries: 1, waitRecheckMs: 5_000, acceptedTimeoutMs: 20_000, busyRetryMs: 3_000 });

function recipient(index: number): Recipient {
  return {
    messageId: `m${index}`, batchId: 'b1', index, count: 9, number: `+4930000000${index}`, text: 'hi', pinnedLine: null,
    nodeId: 'n1', meta: {}, segments: 1, encoding: 'GSM-7', state: 'claimed', line: 'l1', sendId: SEND_ID, telId: index,
    smsNo: null, error: null, attempts: 1, excludedLines: [], group: '', deliveryState: null, deliveredAt: null, updatedAt: 0,
  };
}

/** How the line and the engine answer the session's questions; switched before a row's event. */
interface World {
  heard: boolean;
  online: boolean;
  delayMs: number;
  claims: boolean;
  mayReopen: boolean;
}
const ANSWERING: World = { heard: true, online: true, delayMs: 0, claims: true, mayReopen: true };
const SILENT: World = { heard: false, online: false, delayMs: 500, claims: false, mayReopen: false };

class Rig {
  now = 1_000_000;
  world: World = { ...ANSWERING };
  readonly sent: string[] = [];
  readonly warnings: Error[] = [];
  private timers: Array<{ at: number; run: () => void; live: boolean }> = [];
  private claimed = 1;
  /** Claims answer at once unless deferred: then they wait for answerClaims() (a store across the network). */
  deferClaims = false;
  private pendingClaims: Array<() => void> = [];
  readonly ports: SessionPorts;

  constructor() {
    const world = (): World => this.world;
    this.ports = {
      options: OPTIONS,
      clock: {
        now: () => this.now,
        after: (ms, run) => {
          const timer = { at: this.now + ms, run, live: true };
          this.timers.push(timer);
          return timer as never;
        },
        cancel: (handle) => {
          if (handle !== null) (handle as unknown as { live: boolean }).live = false;
        },
      },
      link: {
        send: (_line, datagram) => this.sent.push(datagram),
        password: () => 'secret',
        heardSince: () => world().heard,
        online: () => world().online,
      },
      gate: {
        mayReopen: () => world().mayReopen,
        sendDelay: () => world().delayMs,
        noteNewNumber: () => {},
        busy: () => {},
        park: () => {},
        silent: () => {},
        handshakeAnswered: () => {},
        handshakeUnanswered: () => {},
        radioResult: () => {},
      },
      radio: { accepted: () => 1, acceptances: () => 0, resultCame: () => {}, queueChanged: () => {}, overdueAt: () => null },
      roundTrips: { note: () => {}, retransmitDelay: () => 400 },
      outcomes: {
        claimNext: (_session, _telId, claimed) => {
          const answer = (): void => claimed(world().claims ? recipient(++this.claimed) : null);
          if (this.deferClaims) this.pendingClaims.push(answer);
          else answer();
        },
        sent: () => {},
        giveUp: () => {},
        fail: () => {},
        watch: () => {},
        handshakeDone: () => {},
        ended: () => {},
      },
      warn: (err) => this.warnings.push(err),
    };
  }

  answerClaims(): void {
    const pending = this.pendingClaims;
    this.pendingClaims = [];
    for (const answer of pending) answer();
  }

  /** Runs the session's timers in time order until its phase changes (or none is left). */
  runTimers(session: BulkSession): void {
    const from = session.phase;
    for (let fired = 0; fired < 100 && session.phase === from; fired++) {
      const due = this.timers.filter((timer) => timer.live).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) return;
      due.live = false;
      this.now = Math.max(this.now, due.at);
      due.run();
    }
  }
}

const reply = {
  PASSWORD: (): BulkReply => ({ kind: 'passwordRequest', sendId: SEND_ID }),
  SEND: (): BulkReply => ({ kind: 'ready', sendId: SEND_ID }),
  WAIT: (telId: number): BulkReply => ({ kind: 'wait', sendId: SEND_ID, telId }),
  OK: (telId: number): BulkReply => ({ kind: 'sent', sendId: SEND_ID, telId, smsNo: 12 }),
  'ERROR errorstatus': (telId: number): BulkReply => ({ kind: 'sendFailed', sendId: SEND_ID, telId, status: 'errorstatus:1' }),
  'ERROR too_many_sends_in_server': (): BulkReply => ({ kind: 'sessionError', sendId: SEND_ID, error: 'tooMany', text: 'too_many_sends_in_server' }),
  'ERROR PASSWORD': (): BulkReply => ({ kind: 'sessionError', sendId: SEND_ID, error: 'password', text: 'PASSWORD' }),
  'ERROR SENDID': (): BulkReply => ({ kind: 'sessionError', sendId: SEND_ID, error: 'unknownSession', text: 'SENDID' }),
  'ERROR GSM_LOGOUT': (): BulkReply => ({ kind: 'sessionError', sendId: SEND_ID, error: 'loggedOut', text: 'GSM_LOGOUT' }),
  'ERROR other': (): BulkReply => ({ kind: 'sessionError', sendId: SEND_ID, error: 'other', text: 'message too long' }),
  DONE: (): BulkReply => ({ kind: 'done', sendId: SEND_ID }),
} as const;

/** The way to each phase from a fresh session, through the protocol, on an answering line. */
const REACH: Record<SessionPhase, (rig: Rig, session: BulkSession) => void> = {
  opening: (_rig, session) => session.start(),
  authenticating: (rig, session) => {
    REACH.opening(rig, session);
    session.onReply(reply.PASSWORD());
  },
  claiming: (rig, session) => {
    REACH.accepted(rig, session);
    rig.deferClaims = true;
    session.onReply(reply.OK(1));
  },
  sending: (rig, session) => {
    REACH.authenticating(rig, session);
    session.onReply(reply.SEND());
  },
  accepted: (rig, session) => {
    REACH.sending(rig, session);
    session.onReply(reply.WAIT(1));
  },
  unanswered: (rig, session) => {
    REACH.sending(rig, session);
    rig.world = { ...rig.world, heard: false };
    rig.runTimers(session);
    rig.world = { ...ANSWERING };
  },
  pacing: (rig, session) => {
    REACH.authenticating(rig, session);
    rig.world = { ...rig.world, delayMs: 500 };
    session.onReply(reply.SEND());
    rig.world = { ...ANSWERING };
  },
  closing: (rig, session) => {
    REACH.accepted(rig, session);
    rig.world = { ...rig.world, claims: false };
    session.onReply(reply.OK(1));
    rig.world = { ...ANSWERING };
  },
  backoff: (rig, session) => {
    REACH.opening(rig, session);
    session.onReply(reply['ERROR too_many_sends_in_server']());
  },
  ended: (rig, session) => {
    REACH.closing(rig, session);
    session.onReply(reply.DONE());
  },
};

/** Fires `event` the way it happens: a reply from the line, a call of the engine, or the session's timer. */
function fire(rig: Rig, session: BulkSession, event: SessionEvent): void {
  const telId = session.current?.telId ?? 1;
  if (event in reply) return session.onReply(reply[event as keyof typeof reply](telId));
  if (event === 'start') return session.start();
  if (event === 'stop') return session.stop();
  if (event === 'claimed') return rig.answerClaims();
  rig.runTimers(session);
}

const PHASES = Object.keys(SESSION_TABLE) as SessionPhase[];

describe('bulk session table', () => {
  for (const phase of PHASES) {
    for (const [event, row] of Object.entries(SESSION_TABLE[phase]) as Array<[SessionEvent, { action: string; next: readonly SessionPhase[] }]>) {
      for (const [name, world] of [['an answering line', ANSWERING], ['a silent, offline, paced line', SILENT]] as const) {
        it(`${phase} x ${event} -> ${row.action}, one of ${row.next.join(' | ')} (${name})`, () => {
          const rig = new Rig();
          const session = phase === 'opening' && event === 'start' ? BulkSession.fresh(rig.ports, 'l1', SEND_ID, recipient(1)) : reached(rig, phase);
          rig.world = { ...world };
          fire(rig, session, event);
          assert.ok(row.next.includes(session.phase), `${phase} x ${event} landed in ${session.phase}`);
          assert.deepEqual(rig.warnings, []);
        });
      }
    }
  }

  it('claims the first number of a session opened without one before its PASSWORD goes', () => {
    const rig = new Rig();
    rig.deferClaims = true;
    const session = BulkSession.claimless(rig.ports, 'l1', SEND_ID, { batchId: 'b1', text: 'hi' });
    session.start();
    session.onReply(reply.PASSWORD());
    assert.equal(session.phase, 'claiming');
    assert.ok(!rig.sent.some((datagram) => datagram.startsWith('PASSWORD')), 'no PASSWORD before the claim is answered');
    rig.answerClaims();
    assert.equal(session.phase, 'authenticating');
    assert.ok(rig.sent.some((datagram) => datagram.startsWith('PASSWORD')));
    session.onReply(reply.SEND());
    assert.equal(session.phase, 'sending');
    assert.equal(session.current?.telId, 1);
    assert.deepEqual(rig.warnings, []);
  });

  it('keeps a number claimed when the session stopped before its claim was answered (a restart re-asks it)', () => {
    const rig = new Rig();
    const session = reached(rig, 'claiming');
    session.stop();
    rig.answerClaims();
    assert.equal(session.phase, 'ended');
    assert.equal(session.current, null);
  });

  it('reaches every phase through the protocol', () => {
    for (const phase of PHASES) assert.equal(reached(new Rig(), phase).phase, phase);
  });

  it('ignores an event its phase has no row for (a stale reply): nothing sent, the phase stays', () => {
    const rig = new Rig();
    const session = reached(rig, 'sending');
    const before = rig.sent.length;
    session.onReply(reply.DONE());
    session.onReply(reply.PASSWORD());
    assert.equal(session.phase, 'sending');
    assert.equal(rig.sent.length, before);
  });

  it('names only phases that exist, and a stop in every phase', () => {
    for (const phase of PHASES) {
      assert.ok(SESSION_TABLE[phase].stop !== undefined, `${phase} has no stop row`);
      for (const row of Object.values(SESSION_TABLE[phase])) for (const next of row?.next ?? []) assert.ok(PHASES.includes(next));
    }
  });
});

function reached(rig: Rig, phase: SessionPhase): BulkSession {
  const session = BulkSession.fresh(rig.ports, 'l1', SEND_ID, recipient(1));
  REACH[phase](rig, session);
  assert.equal(session.phase, phase, `the way to ${phase} ended in ${session.phase}`);
  assert.deepEqual(rig.warnings, [], `the way to ${phase} warned`);
  return session;
}
