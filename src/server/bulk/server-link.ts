/** The lines as the server's socket knows them, for the sessions; datagrams leave by the group commit. */
import type { GoipServer } from '../goip-server';
import type { GroupCommit } from './group-commit';
import type { LineLink } from './session-ports';

export class ServerLink implements LineLink {
  constructor(
    private readonly server: GoipServer,
    private readonly commit: GroupCommit,
  ) {}

  send(line: string, datagram: string): void {
    this.commit.send(line, datagram);
  }

  password(line: string): string {
    return this.server.passwordOf(line) ?? '';
  }

  heardSince(line: string, since: number): boolean {
    const lastSeen = this.server.line(line)?.lastSeen ?? null;
    return lastSeen !== null && lastSeen > since;
  }

  online(line: string): boolean {
    return this.server.line(line)?.online === true;
  }
}
