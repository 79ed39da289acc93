/**
 * Parts of long SMS waiting for their continuation (see src/gateway/parts/part-joiner.ts), kept in
 * the outbox's SQLite file so that a restart or a kill -9 between two parts loses none: a part is
 * committed (WAL, synchronous=FULL) before its RECEIVE ack reaches the wire.
 */
import type { GoipEvent } from '../link/server-types';
import type { Connection, Statement } from './sqlite-driver';
import type { HeldPart, HeldPartStore } from './types';

interface HeldPartRow {
  line: string;
  sender: string;
  event: string;
  held_at: number;
}

export class SqliteHeldParts implements HeldPartStore {
  readonly durable = true;
  private readonly selectAll: Statement<HeldPartRow>;
  private readonly insert: Statement<never>;
  private readonly remove: Statement<never>;

  constructor(db: Connection) {
    this.selectAll = db.prepare<HeldPartRow>('SELECT line, sender, event, held_at FROM held_parts ORDER BY seq');
    this.insert = db.prepare('INSERT INTO held_parts (line, sender, event, held_at) VALUES (@line, @sender, @event, @heldAt)');
    this.remove = db.prepare('DELETE FROM held_parts WHERE line = ? AND sender = ?');
  }

  all(): HeldPart[] {
    return this.selectAll.all().map((row) => ({ line: row.line, from: row.sender, event: JSON.parse(row.event) as GoipEvent, heldAt: row.held_at }));
  }

  hold(part: HeldPart): void {
    this.insert.run({ line: part.line, sender: part.from, event: JSON.stringify(part.event), heldAt: part.heldAt });
  }

  release(line: string, from: string): void {
    this.remove.run(line, from);
  }
}
