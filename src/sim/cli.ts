#!/usr/bin/env node
/** goip-sim: simulated GoIP lines for a GoIP SMS server (this package's or any other). */
import { parseArgs } from 'node:util';
import { startLines } from './fleet';
import type { SimLine } from './line';
import { mulberry32 } from './prng';

const USAGE = `Usage: goip-sim [options]

Simulated GoIP gateway lines: each registers with the SMS server on its own UDP socket,
answers bulk sends and commands, and can receive demo SMS.

  --host <addr>        SMS server address (default 127.0.0.1)
  --port <n>           SMS server UDP port (default 44444)
  --lines <n>          number of lines (default 2), named <prefix>01, <prefix>02, ...
  --id-prefix <text>   line id prefix (default goip)
  --password <text>    password of every line (default secret)
  --keepalive <s>      keepalive interval in seconds (default 30)
  --sms-every <s>      each line receives a demo SMS every <s> seconds (default 0 = never)
  --loss <p>           datagram loss 0..1, both directions (default 0)
  --duplicate <p>      datagram duplication 0..1 (default 0)
  --reorder <p>        datagram reordering 0..1 (default 0)
  --seed <n>           fault PRNG seed (default 1)
  --radio-time <ms>    time the module needs per SMS (default 3000)
  --help               this text
`;

const DEMO_TEXTS = [
  'Hello from the GoIP simulator',
  '你好，这是一条测试短信',
  'Meeting at 10:30; room B',
  'Ключ: 4711; code:ok',
  'Pizza tonight? 🍕🎉',
  'Line one\nLine two',
  '验证码：832914，5分钟内有效。',
];

function fail(message: string): never {
  process.stderr.write(`goip-sim: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function numberFlag(value: string | undefined, name: string, fallback: number, check: (n: number) => boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n)) fail(`invalid --${name} "${value}"`);
  return n;
}

const probability = (n: number): boolean => n >= 0 && n <= 1;
const nonNegative = (n: number): boolean => n >= 0;

function log(line: string, text: string): void {
  const time = new Date().toISOString().slice(11, 23);
  process.stdout.write(`${time} ${line.padEnd(8)} ${text}\n`);
}

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

function describe(line: SimLine): void {
  const id = line.id;
  line.on('registered', (count) => log(id, `registered (ack of keepalive ${count})`));
  line.on('rejected', (status) => log(id, `rejected by the server (status ${status})`));
  line.on('smsSent', (sms) => log(id, `SMS sent over the air to ${sms.number} (sendid ${sms.sendId}, telid ${sms.telId}, sms_no ${sms.smsNo}): ${quote(sms.text)}`));
  line.on('smsFailed', (sms) => log(id, `SMS to ${sms.number} failed (sendid ${sms.sendId}, telid ${sms.telId})`));
  line.on('command', (name, sendId, reply, repeated) => log(id, `command ${name} ${sendId} answered${repeated ? ' again' : ''}: ${quote(reply.trimEnd())}`));
  line.on('report', (r) => {
    const outcome = r.acked ? 'acked' : r.error !== undefined ? `refused (${r.error})` : 'not acked';
    log(id, `${r.verb} ${r.reportId} ${outcome} after ${r.attempts} attempt(s)`);
  });
  line.on('sessionClosed', (sendId, reason) => log(id, `bulk session ${sendId} closed (${reason})`));
  line.on('socketError', (err) => log(id, `socket error: ${err.message}`));
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string' },
        lines: { type: 'string' },
        'id-prefix': { type: 'string', default: 'goip' },
        password: { type: 'string', default: 'secret' },
        keepalive: { type: 'string' },
        'sms-every': { type: 'string' },
        loss: { type: 'string' },
        duplicate: { type: 'string' },
        reorder: { type: 'string' },
        seed: { type: 'string' },
        'radio-time': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(USAGE);
    return;
  }
  const port = numberFlag(v.port, 'port', 44444, (n) => Number.isInteger(n) && n > 0 && n < 65536);
  const count = numberFlag(v.lines, 'lines', 2, (n) => Number.isInteger(n) && n > 0 && n <= 1000);
  const keepaliveS = numberFlag(v.keepalive, 'keepalive', 30, (n) => n > 0);
  const smsEveryS = numberFlag(v['sms-every'], 'sms-every', 0, nonNegative);
  const loss = numberFlag(v.loss, 'loss', 0, probability);
  const duplicate = numberFlag(v.duplicate, 'duplicate', 0, probability);
  const reorder = numberFlag(v.reorder, 'reorder', 0, probability);
  const seed = numberFlag(v.seed, 'seed', 1, Number.isInteger);
  const radioTime = numberFlag(v['radio-time'], 'radio-time', 3000, nonNegative);
  const faulty = loss > 0 || duplicate > 0 || reorder > 0;

  const fleet = await startLines({
    count,
    idPrefix: v['id-prefix'],
    password: v.password,
    server: { host: v.host ?? '127.0.0.1', port },
    bindAddress: '0.0.0.0',
    keepaliveIntervalMs: keepaliveS * 1000,
    smsRadioTimeMs: radioTime,
    faults: faulty ? { loss, duplicate, reorder, seed } : undefined,
  });
  for (const line of fleet.lines) describe(line);
  process.stdout.write(`goip-sim: ${count} line(s) ${fleet.lines[0].id}..${fleet.lines[count - 1].id} -> ${v.host}:${port}${faulty ? ` (loss ${loss}, duplicate ${duplicate}, reorder ${reorder}, seed ${seed})` : ''}; Ctrl-C stops\n`);

  const demoTimers: NodeJS.Timeout[] = [];
  if (smsEveryS > 0) {
    const random = mulberry32(Date.now());
    const periodMs = smsEveryS * 1000;
    fleet.lines.forEach((line, i) => {
      const sendDemo = (): void => {
        const from = `+86138${String(Math.floor(random() * 1e8)).padStart(8, '0')}`;
        const text = DEMO_TEXTS[Math.floor(random() * DEMO_TEXTS.length)];
        log(line.id, `receives SMS from ${from}: ${quote(text)}`);
        line.receiveSms(from, text).catch(() => undefined);
      };
      // Staggered so the lines do not all speak at the same instant.
      const first = setTimeout(() => {
        sendDemo();
        demoTimers.push(setInterval(sendDemo, periodMs));
      }, Math.round(((i + 1) * periodMs) / (count + 1)));
      demoTimers.push(first);
    });
  }

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    for (const timer of demoTimers) clearTimeout(timer);
    process.stdout.write(`goip-sim: ${signal}, stopping\n`);
    void fleet.stop().then(() => {
      process.off('SIGINT', shutdown);
      process.off('SIGTERM', shutdown);
    });
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`goip-sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
