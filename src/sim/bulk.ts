/**
 * Bulk send sessions, device side (docs/protocol.md#bulk-sms-session): MSG -> PASSWORD -> SEND -> WAIT, then the
 * pushed OK/ERROR -> DONE. At most maxSessions at once; each remembers the state of its last
 * telidMemory telids and answers a repeated SEND from that memory instead of sending again. A
 * session nobody talks about for sessionExpiryMs is dropped.
 */
import { BULK_SESSION_ERRORS, ERROR_STATUS_PREFIX, formatBulkReply, MAX_MESSAGE_BYTES, type OutgoingBulkReply, type ServerMessage } from '../protocol';
import type { LineContext } from './options';
import type { Radio, RadioResult } from './radio';
import type { TimerHandle } from './timers';

export type BulkMessage = Extract<ServerMessage, { kind: 'bulkMessage' | 'bulkPassword' | 'bulkSend' | 'bulkDone' }>;

/** Error texts of `ERROR $sendid $errmsg`: the protocol's, and one of the simulator's own. */
export const BULK_ERRORS = {
  ...BULK_SESSION_ERRORS,
  /** Not in the specification (docs/protocol.md#session-errors): `$length` is not the UTF-8 byte length of the text, or it exceeds 3000. */
  length: 'msg_length_error',
} as const;

/** The module reports every failed send as errorstatus 1 (docs/protocol.md#session-steps). */
const SEND_ERROR_STATUS = `${ERROR_STATUS_PREFIX}1`;

type TelStatus = { kind: 'WAIT' } | { kind: 'OK'; smsNo: number } | { kind: 'ERROR' };

interface Session {
  sendId: number;
  text: string;
  authorized: boolean;
  /** Insertion order = age; the oldest is forgotten first. */
  telids: Map<number, TelStatus>;
  expiry: TimerHandle | null;
}

export class BulkSessions {
  private readonly sessions = new Map<number, Session>();

  constructor(
    private readonly ctx: LineContext,
    private readonly radio: Radio,
  ) {}

  get openCount(): number {
    return this.sessions.size;
  }

  handle(message: BulkMessage): void {
    switch (message.kind) {
      case 'bulkMessage':
        this.open(message.sendId, message.length, message.text);
        return;
      case 'bulkPassword':
        this.authenticate(message.sendId, message.password);
        return;
      case 'bulkSend':
        this.submit(message.sendId, message.telId, message.number);
        return;
      case 'bulkDone':
        this.close(message.sendId, 'done');
        this.reply({ kind: 'done', sendId: message.sendId });
        return;
    }
  }

  closeAll(): void {
    for (const session of this.sessions.values()) this.ctx.timers.cancel(session.expiry);
    this.sessions.clear();
  }

  private open(sendId: number, length: number, text: string): void {
    const existing = this.sessions.get(sendId);
    if (existing !== undefined) {
      // A retransmitted MSG: repeat where the session stands.
      this.touch(existing);
      this.reply({ kind: existing.authorized ? 'ready' : 'passwordRequest', sendId });
      return;
    }
    const { options, state } = this.ctx;
    if (state.gsmStatus !== 'LOGIN' || state.moduleDown) return this.sessionError(sendId, BULK_ERRORS.loggedOut);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes !== length || bytes > MAX_MESSAGE_BYTES) return this.sessionError(sendId, BULK_ERRORS.length);
    if (this.sessions.size >= options.maxSessions) return this.sessionError(sendId, BULK_ERRORS.tooMany);
    const session: Session = { sendId, text, authorized: false, telids: new Map(), expiry: null };
    this.sessions.set(sendId, session);
    this.touch(session);
    this.reply({ kind: 'passwordRequest', sendId });
  }

  private authenticate(sendId: number, password: string): void {
    const session = this.sessions.get(sendId);
    if (session === undefined) return this.sessionError(sendId, BULK_ERRORS.unknownSession);
    this.touch(session);
    session.authorized = password === this.ctx.options.password;
    if (session.authorized) this.reply({ kind: 'ready', sendId });
    else this.sessionError(sendId, BULK_ERRORS.password);
  }

  private submit(sendId: number, telId: number, number: string): void {
    const session = this.sessions.get(sendId);
    if (session === undefined) return this.sessionError(sendId, BULK_ERRORS.unknownSession);
    this.touch(session);
    if (!session.authorized) return this.sessionError(sendId, BULK_ERRORS.password);
    const known = session.telids.get(telId);
    if (known !== undefined) {
      this.sendStatus(sendId, telId, known);
      return;
    }
    this.remember(session, telId, { kind: 'WAIT' });
    this.reply({ kind: 'wait', sendId, telId });
    this.radio.enqueue({ number, text: session.text, sendId, telId }, (result) => this.finished(session, telId, number, result));
  }

  private finished(session: Session, telId: number, number: string, result: RadioResult): void {
    const status: TelStatus = result.ok ? { kind: 'OK', smsNo: result.sms.smsNo } : { kind: 'ERROR' };
    if (session.telids.has(telId)) session.telids.set(telId, status);
    if (this.sessions.get(session.sendId) === session) this.touch(session);
    this.sendStatus(session.sendId, telId, status);
    if (result.ok) this.scheduleDeliveryReport(number, result.sms.smsNo);
  }

  private scheduleDeliveryReport(number: string, smsNo: number): void {
    const { deliveryReportAfterMs, deliveryState } = this.ctx.options;
    if (deliveryReportAfterMs === null) return;
    this.ctx.timers.after(deliveryReportAfterMs, () => {
      void this.ctx.report('DELIVER', { sms_no: String(smsNo), state: String(deliveryState(number)), num: number });
    });
  }

  private sendStatus(sendId: number, telId: number, status: TelStatus): void {
    switch (status.kind) {
      case 'WAIT':
        return this.reply({ kind: 'wait', sendId, telId });
      case 'ERROR':
        return this.reply({ kind: 'sendFailed', sendId, telId, status: SEND_ERROR_STATUS });
      case 'OK':
        return this.reply({ kind: 'sent', sendId, telId, smsNo: this.ctx.options.firmware === 'old' ? null : status.smsNo });
    }
  }

  private remember(session: Session, telId: number, status: TelStatus): void {
    session.telids.set(telId, status);
    while (session.telids.size > this.ctx.options.telidMemory) {
      const oldest = session.telids.keys().next().value as number;
      session.telids.delete(oldest);
    }
  }

  private touch(session: Session): void {
    this.ctx.timers.cancel(session.expiry);
    session.expiry = this.ctx.timers.after(this.ctx.options.sessionExpiryMs, () => this.close(session.sendId, 'expired'));
  }

  private close(sendId: number, reason: 'done' | 'expired'): void {
    const session = this.sessions.get(sendId);
    if (session === undefined) return;
    this.ctx.timers.cancel(session.expiry);
    this.sessions.delete(sendId);
    this.ctx.emit('sessionClosed', sendId, reason);
  }

  private reply(reply: OutgoingBulkReply): void {
    this.ctx.send(formatBulkReply(reply));
  }

  private sessionError(sendId: number, text: string): void {
    this.reply({ kind: 'sessionError', sendId, text });
  }
}
