/**
 * AT sessions (docs/protocol.md#at-session): after a line answers ATSTART the server must send ATALIVE at
 * least every 30 s or the device closes the session after 60 s. One session per line; it lasts
 * until ATSTOP is asked for, another ATSTART replaces it, the client stops (redeploy), or the line
 * is found offline when its ATALIVE is due (its device closed the session: nothing is sent).
 */

export interface AtSessionInfo {
  line: string;
  /** The ATSTART sendid: the device's `AT:$sendid;count:N;...` packets carry it. */
  sendId: number;
  openedAt: number;
}

interface Session extends AtSessionInfo {
  timer: ReturnType<typeof setInterval>;
  /** An ATALIVE still waiting for its answer: the next tick does not pile another one on. */
  alivePending: boolean;
}

export class AtSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly intervalMs: number,
    /** Sends one ATALIVE for `line` (a full request with its own resends); resolves when it settled. */
    private readonly keepAlive: (line: string) => Promise<unknown>,
    private readonly isOnline: (line: string) => boolean,
    /** Told of a session closed because its line was offline when its ATALIVE was due. */
    private readonly lapsed: (session: AtSessionInfo) => void,
  ) {}

  open(line: string, sendId: number): void {
    this.close(line);
    const session: Session = {
      line,
      sendId,
      openedAt: Date.now(),
      alivePending: false,
      timer: setInterval(() => {
        if (!this.isOnline(line)) {
          this.close(line);
          this.lapsed({ line, sendId, openedAt: session.openedAt });
          return;
        }
        if (session.alivePending) return;
        session.alivePending = true;
        void this.keepAlive(line).finally(() => {
          session.alivePending = false;
        });
      }, this.intervalMs),
    };
    this.sessions.set(line, session);
  }

  /** True when `line` had a session. */
  close(line: string): boolean {
    const session = this.sessions.get(line);
    if (session === undefined) return false;
    clearInterval(session.timer);
    this.sessions.delete(line);
    return true;
  }

  /** Closes every session; returns what was open. */
  closeAll(): AtSessionInfo[] {
    const open = this.list();
    for (const session of this.sessions.values()) clearInterval(session.timer);
    this.sessions.clear();
    return open;
  }

  get(line: string): AtSessionInfo | undefined {
    const session = this.sessions.get(line);
    return session === undefined ? undefined : { line: session.line, sendId: session.sendId, openedAt: session.openedAt };
  }

  list(): AtSessionInfo[] {
    return [...this.sessions.values()].map(({ line, sendId, openedAt }) => ({ line, sendId, openedAt }));
  }
}
