/**
 * The ingest load generator, run as a child process (bench/ingest.ts forks it): N lines, each its
 * own UDP socket on 127.0.0.1, sending RECEIVEs and keepalives to one port and timing the acks.
 * It gets its GeneratorInput as the first IPC message and answers with one PhaseResult per phase.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { formatKeepalive, formatReport } from '../src/protocol';

export interface Phase {
  name: string;
  /** Datagrams per second to offer; 0 = as fast as acks come back (closed loop). */
  rate: number;
  /** Closed loop: datagrams in flight per line. */
  window: number;
  /** How long datagrams are offered. */
  durationMs: number;
  /** Open loop: stop after this many datagrams, even before durationMs. */
  count?: number;
  /** Only the first `lines` lines send (default all). */
  lines?: number;
  /** RECEIVEs between two keepalives of the generator, default 3; 0 = RECEIVEs only. */
  receivesPerKeepalive?: number;
  /** Like a GoIP: an unacked RECEIVE goes again (same id) every intervalMs, at most `max` times, then is given up. */
  resend?: { intervalMs: number; max: number };
  /** Return the ids of the datagrams never acked, and the first and last id sent. */
  trackIds?: boolean;
}

export interface PhaseResult {
  name: string;
  /** Datagrams sent, resends not counted. */
  sent: number;
  acked: number;
  /** Not acked: given up after the resends, past the closed loop's timeout (and replaced), or still unacked DRAIN_MS after the phase. */
  unacked: number;
  resent: number;
  receivesAcked: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** With Phase.trackIds. */
  unackedIds?: number[];
  firstId?: number;
  lastId?: number;
}

export interface GeneratorInput {
  port: number;
  lines: number;
  phases: Phase[];
  /** The report id before the first datagram's (default 0); a second generator against the same receiver starts past the first's, or its RECEIVEs are repeats. */
  serialBase?: number;
  /**
   * Every line sends a keepalive first and waits (up to 5 s) for its ack, as a GoIP does when it
   * starts: a server acks a report at the address its line registered from, which a second
   * generator's new sockets are not.
   */
  register?: boolean;
}

/** Closed loop: a datagram unacked this long is given up and its line sends a new one (else its window slot would stay empty for good). */
const CLOSED_LOOP_TIMEOUT_MS = 1000;
/** Acks of datagrams still in flight when a phase stops offering may land this long. */
const DRAIN_MS = 300;

interface Pending {
  n: number;
  line: number;
  at: number;
  tries: number;
  datagram: string;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function generate(input: GeneratorInput): Promise<PhaseResult[]> {
  const sockets = await Promise.all(
    Array.from({ length: input.lines }, async () => {
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      return socket;
    }),
  );
  // Datagram templates made once per line with the codec, split where the serial number goes, so
  // the generator spends its time on sockets rather than formatting (it shares the cores with the target).
  const MARK = '\u0000';
  const templates = sockets.map((_, i) => ({
    keepalive: formatKeepalive({ count: MARK, id: `goip${i}`, password: 'pw', fields: { num: '', signal: '25', gsm_status: 'LOGIN', voip_status: 'LOGOUT' } }).split(MARK),
    receive: formatReport('RECEIVE', MARK, `goip${i}`, 'pw', { srcnum: '+8613800138000', msg: `bench message ${MARK} 你好` }).split(MARK),
  }));
  const results: PhaseResult[] = [];
  let serial = input.serialBase ?? 0;
  if (input.register === true) {
    await Promise.all(
      sockets.map(
        (socket, i) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 5000);
            socket.once('message', () => {
              clearTimeout(timer);
              resolve();
            });
            socket.send(templates[i].keepalive.join(String(++serial)), input.port, '127.0.0.1');
          }),
      ),
    );
  }
  for (const phase of input.phases) {
    const lineCount = Math.min(phase.lines ?? sockets.length, sockets.length);
    const perKeepalive = phase.receivesPerKeepalive ?? 3;
    const closedLoop = phase.rate === 0;
    const watched = closedLoop || phase.resend !== undefined;
    const timeoutMs = phase.resend?.intervalMs ?? CLOSED_LOOP_TIMEOUT_MS;
    const sentAt = new Map<number, number>();
    // In send order; every entry has the same timeout, so the oldest is always first.
    const pending: Pending[] = [];
    let head = 0;
    const latencies: number[] = [];
    let sent = 0;
    let acked = 0;
    let receivesAcked = 0;
    let unacked = 0;
    let resent = 0;
    let running = true;
    const unackedIds: number[] = [];
    const firstId = serial + 1;
    const started = performance.now();

    const sendOne = (line: number): void => {
      const n = ++serial;
      const isKeepalive = perKeepalive > 0 && n % (perKeepalive + 1) === 0;
      const datagram = (isKeepalive ? templates[line].keepalive : templates[line].receive).join(String(n));
      const now = performance.now();
      sentAt.set(n, now);
      sent++;
      // A GoIP does not resend a keepalive: the next one comes anyway.
      if (watched && (closedLoop || !isKeepalive)) pending.push({ n, line, at: now, tries: 0, datagram });
      sockets[line].send(datagram, input.port, '127.0.0.1');
    };

    const expire = (): void => {
      const now = performance.now();
      while (head < pending.length && pending[head].at + timeoutMs <= now) {
        const entry = pending[head++];
        if (!sentAt.has(entry.n)) continue;
        if (phase.resend !== undefined && entry.tries < phase.resend.max) {
          entry.tries++;
          entry.at = now;
          resent++;
          pending.push(entry);
          sockets[entry.line].send(entry.datagram, input.port, '127.0.0.1');
          continue;
        }
        sentAt.delete(entry.n);
        unacked++;
        if (phase.trackIds === true) unackedIds.push(entry.n);
        if (closedLoop && running) sendOne(entry.line);
      }
      if (head > 65_536) {
        pending.splice(0, head);
        head = 0;
      }
    };
    const expiry = watched ? setInterval(expire, 50) : null;

    // Acks are `reg:<n>;status:0;` (`req:` from the peer) or `RECEIVE <n> OK`.
    const onAck = (line: number) => (buffer: Buffer): void => {
      const isReg = buffer[0] === 0x72;
      const n = isReg ? parseInt(buffer.toString('latin1', 4, 24), 10) : parseInt(buffer.toString('latin1', 8, 28), 10);
      const at = sentAt.get(n);
      if (at === undefined) return;
      sentAt.delete(n);
      acked++;
      if (!isReg) receivesAcked++;
      latencies.push(performance.now() - at);
      if (running && closedLoop) sendOne(line);
    };
    const handlers = sockets.map((socket, i) => {
      const handler = onAck(i);
      socket.on('message', handler);
      return handler;
    });

    if (closedLoop) {
      for (let w = 0; w < phase.window; w++) for (let i = 0; i < lineCount; i++) sendOne(i);
      await delay(phase.durationMs);
    } else {
      // Open loop: keep the offered count on schedule, spread over the lines round-robin.
      const limit = phase.count ?? Number.POSITIVE_INFINITY;
      let next = 0;
      await new Promise<void>((resolve) => {
        const tick = (): void => {
          const elapsedMs = performance.now() - started;
          if (elapsedMs >= phase.durationMs || sent >= limit) {
            resolve();
            return;
          }
          const due = Math.min(limit, Math.floor((elapsedMs / 1000) * phase.rate));
          while (sent < due) sendOne(next++ % lineCount);
          setTimeout(tick, 1);
        };
        tick();
      });
    }
    running = false;
    const seconds = (performance.now() - started) / 1000;
    await delay(DRAIN_MS);
    if (phase.resend !== undefined) {
      // Wait out the resend budget of the last datagrams: each ends acked or given up.
      const deadline = performance.now() + (phase.resend.max + 1) * phase.resend.intervalMs + 1000;
      while (sentAt.size > 0 && performance.now() < deadline) await delay(50);
    }
    if (expiry !== null) clearInterval(expiry);
    sockets.forEach((socket, i) => socket.off('message', handlers[i]));
    unacked += sentAt.size;
    if (phase.trackIds === true) for (const n of sentAt.keys()) unackedIds.push(n);
    const sorted = Float64Array.from(latencies).sort();
    results.push({
      name: phase.name,
      sent,
      acked,
      unacked,
      resent,
      receivesAcked,
      seconds,
      perSecond: acked / seconds,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN,
      ...(phase.trackIds === true ? { unackedIds, firstId, lastId: serial } : {}),
    });
  }
  await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  return results;
}

if (require.main === module) {
  process.once('message', (input) => {
    void generate(input as GeneratorInput).then((results) => process.send?.(results));
  });
}
