/**
 * The AT channel (docs/protocol.md#at-session): after ATSTART the line mirrors what is written to and read
 * from its module as `AT:$sendid;count:N;...;receive:<text>` packets (no ack), until ATSTOP or
 * atSessionTimeoutMs without ATALIVE.
 */
import type { LineContext } from './options';
import type { ReportSender } from './reports';
import type { TimerHandle } from './timers';

export class AtSession {
  private session: { sendId: number; count: number; timer: TimerHandle | null } | null = null;

  constructor(
    private readonly ctx: LineContext,
    private readonly reports: ReportSender,
  ) {}

  get open(): boolean {
    return this.session !== null;
  }

  start(sendId: number): void {
    this.stop();
    this.session = { sendId, count: 0, timer: null };
    this.keepAlive();
  }

  stop(): void {
    if (this.session === null) return;
    this.ctx.timers.cancel(this.session.timer);
    this.session = null;
  }

  keepAlive(): void {
    const session = this.session;
    if (session === null) return;
    this.ctx.timers.cancel(session.timer);
    session.timer = this.ctx.timers.after(this.ctx.options.atSessionTimeoutMs, () => {
      if (this.session === session) this.session = null;
    });
  }

  /** Writes `command` to the module: echoes `write:<command>`, then each line the module answers. */
  write(command: string): void {
    if (this.session === null) return;
    this.packet(`write:${command}`);
    for (const line of this.answerTo(command)) this.packet(line);
  }

  private answerTo(command: string): readonly string[] {
    const configured = this.ctx.options.atReplies[command.trim()];
    if (configured !== undefined) return configured;
    if (/^AT\+CSQ$/i.test(command.trim())) return [`+CSQ: ${this.ctx.state.signal},99`, 'OK'];
    return ['OK'];
  }

  private packet(receive: string): void {
    const session = this.session;
    if (session === null) return;
    session.count++;
    this.reports.sendAtPacket(session.sendId, session.count, receive);
  }
}
