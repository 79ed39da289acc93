/**
 * The bulk replies read in one loop turn, handed over together (one unit of work for the burst)
 * once the turn's input is read.
 */
import { type BulkReply, type DeviceMessage, parseBulkReply } from '../../protocol';

export interface InboxReply {
  line: string;
  reply: BulkReply;
}

export class ReplyInbox {
  private replies: InboxReply[] = [];

  constructor(private readonly deliver: (replies: InboxReply[]) => void) {}

  /** The server's 'reply' listener: keeps the bulk replies, ignores the rest. */
  readonly onReply = (line: string, message: DeviceMessage): void => {
    if (message.kind !== 'reply') return;
    const reply = parseBulkReply(message);
    if (reply === null) return;
    if (this.replies.length === 0) setImmediate(this.handOver);
    this.replies.push({ line, reply });
  };

  /** Forgets the replies not handed over yet. */
  clear(): void {
    this.replies = [];
  }

  private readonly handOver = (): void => {
    const replies = this.replies;
    this.replies = [];
    this.deliver(replies);
  };
}
