import assert from 'node:assert/strict';
import {
  commandArguments,
  CommandInputError,
  COMMANDS,
  formatKeepalive,
  type GsmInfo,
  interpretCommandReply,
  parseDeviceMessage,
  type GsmReply,
  type Reply,
} from '../../src/protocol';
import { type GoipEvent, GoipServer } from '../../src/link';
import { BulkSender } from '../../src/outbound';
import { COMMAND_SEND_ID_MIN, CommandClient, CommandError, type CommandOptions, CommandSendIds } from '../../src/link/commands';
import { type FaultOptions, SimLine, type SimLineOptions } from '../../src/sim';
import { MemoryOutbox } from '../helpers/memory-outbox';
import { sendPortOf } from '../../src/outbox';
import { nextEvent, type Received, UdpPeer } from '../helpers/udp';

const PASSWORD = 'cmdpw';

/** Protocol timings (docs/protocol.md#timings) scaled down 100x or more: 5 s -> 40 ms, 10 s -> 80 ms, 30 s -> 30 ms. */
const FAST: Partial<CommandOptions> = { commandTimeoutMs: 40, commandRetries: 2, ussdTimeoutMs: 80, ussdRetries: 1, atAliveMs: 30 };

function lineId(i: number): string {
  return `goip${String(i + 1).padStart(2, '0')}`;
}

/** Distinct device state per line, so a reply matched to the wrong line or request shows. */
function identity(i: number): Partial<SimLineOptions> {
  return {
    num: `+861380000000${i + 1}`,
    imei: `86000000000000${i + 1}`,
    expTime: 100 + i,
    remainTime: 50 + i,
    outCallInterval: 3 + i,
    currentCell: `CELL${i + 1}`,
    cells: [`${i + 1}01`, `${i + 1}02`],
  };
}

const reply = (text: string): Reply | GsmReply => {
  const parsed = parseDeviceMessage(text);
  assert.ok(parsed.kind === 'reply' || parsed.kind === 'gsm', `"${text}" parses as a reply`);
  return parsed;
};

async function rejection(promise: Promise<unknown>): Promise<CommandError> {
  try {
    const value = await promise;
    assert.fail(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (err) {
    assert.ok(err instanceof CommandError, `a CommandError, got ${String(err)}`);
    return err;
  }
}

describe('server commands', () => {
  describe('replies and arguments (pure)', () => {
    it('interprets every reply form of the spec and of real firmware', () => {
      const ok = (command: string, text: string, args: string[] = []): unknown => {
        const result = interpretCommandReply(command, reply(text), args);
        assert.ok(result?.ok, `${command} <- ${text}: ${JSON.stringify(result)}`);
        return result.value;
      };
      assert.equal(ok('get_gsm_num', 'get_gsm_num 1000001 +8613800000000'), '+8613800000000');
      assert.equal(ok('get_gsm_num', 'get_gsm_num 1000001 (null)'), '');
      assert.equal(ok('set_gsm_num', 'set_gsm_num 1000001 +8613800000000 ok', ['+8613800000000']), '+8613800000000');
      assert.equal(ok('get_exp_time', 'get_exp_time 1000001 120'), 120);
      assert.equal(ok('set_exp_time', 'set_exp_time 1000001 120 ok', ['120']), 120);
      assert.equal(ok('get_remain_time', 'get_remain_time 1000001 -1'), -1);
      assert.equal(ok('reset_remain_time', 'reset_remain_time 1000001 ok'), true);
      assert.equal(ok('get_gsm_state', 'get_gsm_state 1000001 ACTIVE'), 'ACTIVE');
      for (const svr of ['svr_drop_call', 'svr_reboot_module', 'svr_reboot_dev']) assert.equal(ok(svr, `${svr} 1000001 ok`), true);
      assert.deepEqual(ok('GSM', 'GSM:1;get_gsm_num:(null);get_exp_time:0;get_remain_time:0;get_gsm_state:IDLE;imei:000000000000000;out_call_interval:0;module_down:0'), {
        gsmNum: '',
        expTime: 0,
        remainTime: 0,
        gsmState: 'IDLE',
        imei: '000000000000000',
        outCallInterval: 0,
        moduleDown: false,
      } satisfies GsmInfo);
      assert.deepEqual(ok('GSM', 'GSM:7;get_gsm_num:+1;get_exp_time:5;get_remain_time:4;get_gsm_state:ACTIVE'), { gsmNum: '+1', expTime: 5, remainTime: 4, gsmState: 'ACTIVE' });
      assert.equal(ok('CF', 'CFOK 1000001'), true);
      assert.deepEqual(ok('CF', 'CFSTATE 1000001 1 13800138000 20'), { enable: true, number: '13800138000', time: 20 });
      assert.deepEqual(ok('CF', 'CFSTATE 1000001 0 (null) 0'), { enable: false, number: '', time: 0 });
      assert.equal(ok('USSD', 'USSD 1000001 Balance: 1.00\nValid until 2030\n'), 'Balance: 1.00\nValid until 2030');
      assert.equal(ok('USSDEXIT', 'USSDEXIT 1000001'), true);
      assert.equal(ok('get_imei', 'get_imei 1000001 861234567890123'), '861234567890123');
      assert.equal(ok('set_imei', 'set_imei 1000001 861234567890123 ok', ['861234567890123']), '861234567890123');
      assert.equal(ok('get_out_call_interval', 'get_out_call_interval 1000001 7'), 7);
      assert.equal(ok('set_out_call_interval', 'set_out_call_interval 1000001 7 ok', ['7']), 7);
      assert.equal(ok('module_ctl_i', 'module_ctl_i 1000001 ok'), true);
      assert.equal(ok('module_ctl', 'module_ctl 1000001 ok'), true);
      assert.equal(ok('set_base_cell', 'set_base_cell 1000001 5E5B ok', ['5E5B']), '5E5B');
      assert.equal(ok('get_cells_list', 'get_cells_list 1000001 ok'), true);
      assert.equal(ok('CURCELL', 'CURCELL 1000001 5E5B'), '5E5B');
      for (const at of ['ATSTART', 'ATSTOP', 'ATALIVE', 'ATCMD']) assert.equal(ok(at, `${at} 1000001 OK`), true);
      // Any case of the command name.
      assert.equal(ok('curcell', 'CURCELL 1000001 5E5B'), '5E5B');
    });

    it('turns error replies into failures with the device text', () => {
      const failed = (command: string, text: string): string => {
        const result = interpretCommandReply(command, reply(text));
        assert.ok(result !== null && !result.ok, `${command} <- ${text}: ${JSON.stringify(result)}`);
        return result.text;
      };
      assert.equal(failed('get_gsm_num', 'ERROR 1000001 password error'), 'password error');
      assert.equal(failed('set_gsm_num', 'ERROR 1000001 +86138 invalid'), '+86138 invalid');
      assert.equal(failed('GSM', 'GSMERROR 1000001 password error'), 'password error');
      assert.equal(failed('CF', 'CFERROR 1000001'), 'CFERROR');
      assert.equal(failed('USSD', 'USSD 1000001 USSD send failed!'), 'USSD send failed!');
      assert.equal(failed('USSD', 'USSDERROR 1000001 network busy'), 'network busy');
      assert.equal(failed('USSDEXIT', 'USSDERROR 1000001 no session'), 'no session');
      assert.equal(failed('ATCMD', 'ERROR 1000001 AT_NOT_STARTED'), 'AT_NOT_STARTED');
      assert.equal(failed('get_exp_time', 'get_exp_time 1000001 lots'), 'unexpected answer "lots"');
      assert.equal(failed('set_exp_time', 'set_exp_time 1000001 5 no'), 'unexpected answer "5 no"');
    });

    it('matches replies by kind: a reply of another verb is not an answer', () => {
      assert.equal(interpretCommandReply('get_gsm_num', reply('get_imei 1000001 861234567890123')), null);
      assert.equal(interpretCommandReply('get_gsm_num', reply('GSM:1000001;get_gsm_num:+1')), null);
      assert.equal(interpretCommandReply('CF', reply('DONE 1000001')), null);
      assert.equal(interpretCommandReply('USSD', reply('OK 1000001 2')), null);
      assert.equal(interpretCommandReply('GSM', reply('WAIT 1000001 1')), null);
    });

    it('checks arguments before anything is sent', () => {
      assert.deepEqual(commandArguments('set_gsm_num', { number: '+86 138-0013 8000' }), ['+8613800138000']);
      assert.deepEqual(commandArguments('set_exp_time', { minutes: 120 }), ['120']);
      assert.deepEqual(commandArguments('set_exp_time', '0'), ['0']);
      assert.deepEqual(commandArguments('set_imei', { imei: '861234567890123' }), ['861234567890123']);
      assert.deepEqual(commandArguments('module_ctl_i', { value: 1 }), ['1']);
      assert.deepEqual(commandArguments('module_ctl_i', { value: false }), ['0']);
      assert.deepEqual(commandArguments('module_ctl_i', { value: 2 }), ['2']);
      assert.deepEqual(commandArguments('module_ctl', { value: '10120121' }), ['10120121']);
      assert.deepEqual(commandArguments('set_base_cell', { cell: '5E5B' }), ['5E5B']);
      assert.deepEqual(commandArguments('CF', { reason: 0, mode: 3, number: '13800138000' }), ['0', '3', '13800138000', '0']);
      assert.deepEqual(commandArguments('CF', { reason: '2', mode: '4', number: '+1', time: 20 }), ['2', '4', '+1', '20']);
      assert.deepEqual(commandArguments('USSD', '*100#'), ['*100#']);
      assert.deepEqual(commandArguments('USSD', ' *100#\n'), ['*100#'], 'surrounding whitespace trimmed: the datagram never ends in a newline');
      assert.deepEqual(commandArguments('ussd', { code: '*100#' }), ['*100#']);
      assert.deepEqual(commandArguments('ATCMD', 'AT+CMGF=0'), ['AT+CMGF=0']);
      assert.deepEqual(commandArguments('get_gsm_num', 'ignored'), []);
      const bad: Array<[string, unknown, RegExp]> = [
        ['set_imei', { imei: '12345678901234' }, /set_imei needs imei: exactly 15 digits/],
        ['set_imei', { imei: 861234567890123 }, /exactly 15 digits \(as a string\)/],
        ['set_imei', {}, /set_imei needs imei/],
        ['module_ctl_i', { value: 3 }, /1 \(enable\) or 0 \(disable/],
        ['module_ctl', { value: '10130' }, /one digit per line/],
        ['module_ctl', { value: '' }, /module_ctl needs value/],
        ['set_exp_time', { minutes: -1 }, /whole number from 0/],
        ['set_exp_time', { minutes: 1.5 }, /whole number from 0/],
        ['set_out_call_interval', { interval: 'soon' }, /whole number/],
        ['set_gsm_num', { number: 'call me' }, /phone number/],
        ['set_base_cell', { cell: 'a b' }, /cell id/],
        ['CF', { reason: 6, mode: 3, number: '1' }, /reason: 0 unconditional/],
        ['CF', { reason: 0, mode: 1, number: '1' }, /mode: 3 \(enable\) or 4 \(disable\)/],
        ['CF', { reason: 0, mode: 3 }, /CF needs number in \{reason, mode, number, time\}/],
        ['CF', '0 3 123', /CF needs an object/],
        ['USSD', '', /USSD needs code/],
        ['USSD', '*1\n00#', /single line/],
        ['ATCMD', 'AT\r\nATD123;', /single line/],
        ['ATCMD', undefined, /ATCMD needs command/],
        ['no_such_command', {}, /unknown GoIP command "no_such_command"/],
        ['', {}, /no command given/],
      ];
      for (const [command, input, reason] of bad) {
        assert.throws(() => commandArguments(command, input), (err: Error) => err instanceof CommandInputError && reason.test(err.message), `${command} ${JSON.stringify(input)}`);
      }
    });

    it('draws command sendids per line from their own rising range, apart from bulk sendids', () => {
      let now = 1_700_000_000_000;
      const ids = new CommandSendIds(() => now);
      const a1 = ids.next('a');
      assert.equal(a1, COMMAND_SEND_ID_MIN);
      assert.equal(ids.next('a'), a1 + 1);
      assert.equal(ids.next('b'), COMMAND_SEND_ID_MIN);
      now += 3600_000; // a restart an hour later starts above anything an hour of 1 id/s used
      assert.equal(new CommandSendIds(() => now).next('a'), COMMAND_SEND_ID_MIN + 3600);
      assert.equal(ids.next('a'), COMMAND_SEND_ID_MIN + 3600);
      assert.ok(Object.keys(COMMANDS).length >= 27);
    });
  });

  describe('against the server and simulated lines', () => {
    let server: GoipServer;
    let port: number;
    let client: CommandClient;
    let sims: SimLine[];
    let peers: UdpPeer[];
    let senders: BulkSender[];
    /** Every datagram the server sent, in order. */
    let out: string[];

    async function start(options: {
      lines?: number;
      sim?: Partial<SimLineOptions>;
      perLine?: (i: number) => Partial<SimLineOptions>;
      faults?: (i: number) => FaultOptions | undefined;
      client?: Partial<CommandOptions>;
      extraDevices?: string[];
    } = {}): Promise<void> {
      const ids = Array.from({ length: options.lines ?? 1 }, (_, i) => lineId(i));
      server = new GoipServer({
        bind: '127.0.0.1',
        port: 0,
        devices: [...ids, ...(options.extraDevices ?? [])].map((id) => ({ id, password: PASSWORD })),
        offlineAfterMs: 10_000,
      });
      server.on('datagramOut', (text) => out.push(text));
      port = (await server.start()).port;
      client = new CommandClient(server, { ...FAST, ...options.client });
      client.start();
      sims = ids.map(
        (id, i) =>
          new SimLine({
            id,
            password: PASSWORD,
            server: { host: '127.0.0.1', port },
            keepaliveIntervalMs: 20,
            ussdDelayMs: 5,
            cellsDelayMs: 5,
            atSessionTimeoutMs: 100,
            receiveRetryMs: 50,
            ...identity(i),
            ...options.sim,
            ...options.perLine?.(i),
            faults: options.faults?.(i),
          }),
      );
      const online = Promise.all(ids.map((id) => nextEvent<[GoipEvent]>(server, 'event', (e) => e.line === id && e.event === 'online')));
      await Promise.all(sims.map((s) => s.start()));
      await online;
    }

    beforeEach(() => {
      sims = [];
      peers = [];
      senders = [];
      out = [];
    });

    afterEach(async () => {
      await client?.stop();
      await Promise.all(senders.map((s) => s.stop()));
      await Promise.all(sims.map((s) => s.stop()));
      await Promise.all(peers.map((p) => p.close()));
      await server?.stop();
    });

    const sim = (id: string): SimLine => sims.find((s) => s.id === id) as SimLine;

    it('round-trips every command of the spec and parses each answer', async () => {
      await start({ sim: { ussdReplies: { '*100#': 'Balance: 12.34\nValid until 2030' } } });
      const line = sim('goip01');
      const ask = (command: string, input?: unknown): Promise<unknown> => client.request('goip01', command, input);

      assert.equal(await ask('get_gsm_num'), '+8613800000001');
      assert.equal(await ask('set_gsm_num', { number: '+8613911112222' }), '+8613911112222');
      assert.equal(await ask('get_gsm_num'), '+8613911112222');
      assert.equal(await ask('get_exp_time'), 100);
      assert.equal(await ask('set_exp_time', { minutes: 300 }), 300);
      assert.equal(await ask('get_remain_time'), 50);
      assert.equal(await ask('reset_remain_time'), true);
      assert.equal(await ask('get_remain_time'), 300);
      assert.equal(await ask('get_gsm_state'), 'IDLE');
      assert.equal(await ask('svr_drop_call'), true);
      assert.equal(await ask('svr_reboot_module'), true);
      assert.equal(await ask('svr_reboot_dev'), true);
      assert.equal(await ask('get_imei'), '860000000000001');
      assert.equal(await ask('set_imei', { imei: '861111111111111' }), '861111111111111');
      assert.equal(await ask('get_out_call_interval'), 3);
      assert.equal(await ask('set_out_call_interval', { interval: 9 }), 9);
      assert.equal(await ask('module_ctl_i', { value: 0 }), true);
      assert.equal(line.state.moduleDown, true);
      assert.deepEqual(await ask('gsm'), {
        gsmNum: '+8613911112222',
        expTime: 300,
        remainTime: 300,
        gsmState: 'IDLE',
        imei: '861111111111111',
        outCallInterval: 9,
        moduleDown: true,
      });
      assert.equal(await ask('module_ctl_i', { value: 1 }), true);
      assert.equal(line.state.moduleDown, false);
      assert.equal(await ask('module_ctl', { value: '10120121' }), true);
      assert.equal(await ask('set_base_cell', { cell: '6F01' }), '6F01');
      assert.equal(await ask('CURCELL'), '6F01');

      const cells = nextEvent<[GoipEvent]>(server, 'event', (e) => e.event === 'cells');
      assert.equal(await ask('get_cells_list'), true);
      const [report] = await cells;
      assert.deepEqual(report.payload, ['101', '102'], 'the CELLS list arrives later as a cells event');

      assert.equal(await ask('CF', { reason: 0, mode: 3, number: '13800138000' }), true);
      assert.equal(await ask('USSD', '*100#'), 'Balance: 12.34\nValid until 2030');
      assert.equal(await ask('USSDEXIT'), true);
      assert.equal(await ask('ATSTART'), true);
      assert.equal(await ask('ATCMD', 'AT+CSQ'), true);
      assert.equal(await ask('ATSTOP'), true);

      // Every datagram carries a command sendid; USSD has no trailing newline; none was resent.
      const commands = out.filter((t) => !t.startsWith('reg:') && !/^[A-Z]+ -?\d+ OK$/.test(t));
      for (const text of commands) assert.ok(Number(text.split(' ')[1]) >= COMMAND_SEND_ID_MIN, text);
      const ussd = commands.find((t) => t.startsWith('USSD '));
      assert.equal(ussd?.endsWith('*100#'), true, `USSD datagram "${ussd}"`);
      assert.equal(client.counters.resends, 0);
      assert.equal(client.counters.failed, 0);
    });

    it('answers the spec 4-field GSM form with 4 fields', async () => {
      await start({ sim: { gsmReplyFields: 4, num: '' } });
      assert.deepEqual(await client.request('goip01', 'GSM'), { gsmNum: '', expTime: 100, remainTime: 50, gsmState: 'IDLE' });
    });

    it('CF: CFOK and CFERROR are followed by DONE with the same sendid', async () => {
      await start({ perLine: (i) => ({ cfError: i === 1 }), lines: 2 });
      const done1 = nextEvent<[string]>(sim('goip01'), 'datagramIn', (t) => t.startsWith('DONE '));
      assert.equal(await client.request('goip01', 'CF', { reason: 2, mode: 3, number: '+8613800138000', time: 20 }), true);
      const cf1 = out.find((t) => t.startsWith('CF '));
      assert.match(cf1 ?? '', new RegExp(`^CF (\\d+) ${PASSWORD} 2 3 \\+8613800138000 20$`));
      const [doneText] = await done1;
      assert.equal(doneText, `DONE ${(cf1 as string).split(' ')[1]}\n`);

      const done2 = nextEvent<[string]>(sim('goip02'), 'datagramIn', (t) => t.startsWith('DONE '));
      const err = await rejection(client.request('goip02', 'cf', { reason: 0, mode: 4, number: '1' }));
      assert.equal(err.code, 'device');
      assert.equal(err.message, 'CF failed on line goip02: CFERROR');
      await done2;
    });

    it('USSD: the text, `USSD send failed!` and USSDERROR as errors, USSDEXIT', async () => {
      await start({ sim: { ussdReplies: { '*100#': 'Your balance is 1.00', '*404#': { error: 'network busy' } } } });
      assert.equal(await client.request('goip01', 'USSD', '*100#'), 'Your balance is 1.00');
      const failed = await rejection(client.request('goip01', 'USSD', '*999#'));
      assert.equal(failed.code, 'device');
      assert.equal(failed.deviceText, 'USSD send failed!');
      assert.equal(failed.message, 'USSD failed on line goip01: USSD send failed!');
      const busy = await rejection(client.request('goip01', 'USSD', { code: '*404#' }));
      assert.equal(busy.message, 'USSD failed on line goip01: network busy');
      assert.equal(await client.request('goip01', 'USSDEXIT'), true);
      // Queued one behind the other per line: each answer is its own even when asked together.
      const both = await Promise.all([client.request('goip01', 'USSD', '*100#'), client.request('goip01', 'USSD', '*404#').catch((e: Error) => e.message)]);
      assert.deepEqual(both, ['Your balance is 1.00', 'USSD failed on line goip01: network busy']);
    });

    it('ERROR replies reject with the device text', async () => {
      await start();
      const err = await rejection(client.request('goip01', 'ATCMD', 'AT+CSQ'));
      assert.equal(err.code, 'device');
      assert.equal(err.deviceText, 'AT_NOT_STARTED');
      assert.equal(err.message, 'ATCMD failed on line goip01: AT_NOT_STARTED');
    });

    it('fails at once for an unknown or offline line and for bad arguments, sending nothing', async () => {
      await start({ extraDevices: ['goip09'] });
      const sentBefore = out.length;
      const unknown = await rejection(client.request('goip77', 'get_gsm_num'));
      assert.equal(unknown.code, 'unknownLine');
      assert.match(unknown.message, /unknown line "goip77"/);
      const offline = await rejection(client.request('goip09', 'get_gsm_num'));
      assert.equal(offline.code, 'offline');
      assert.equal(offline.message, 'line goip09 is offline: get_gsm_num not sent');
      const bad = await rejection(client.request('goip01', 'set_imei', { imei: '123' }));
      assert.equal(bad.code, 'input');
      assert.match(bad.message, /exactly 15 digits/);
      assert.equal((await rejection(client.request('', 'GSM'))).code, 'input');
      assert.equal((await rejection(client.request('goip01', 'reboot'))).code, 'input');
      const keepalivesOnly = out.slice(sentBefore).filter((t) => !t.startsWith('reg:'));
      assert.deepEqual(keepalivesOnly, []);
      assert.equal(client.busy, 0);
    });

    it('times out after every try with a clear reason, resending the same datagram', async () => {
      await start({ client: { commandTimeoutMs: 30, commandRetries: 2 } });
      await sim('goip01').stop(); // still "online" for the server: it just stops answering
      const err = await rejection(client.request('goip01', 'get_gsm_num'));
      assert.equal(err.code, 'timeout');
      assert.equal(err.message, 'no answer from line goip01 to get_gsm_num after 3 tries (0.09 s)');
      const sent = out.filter((t) => t.startsWith('get_gsm_num '));
      assert.equal(sent.length, 3);
      assert.equal(new Set(sent).size, 1, 'the same datagram, the same sendid');
      assert.equal(client.counters.timeouts, 1);
      assert.equal(client.counters.resends, 2);
    });

    it('ignores late, duplicated and foreign replies; answers a repeated CF reply with DONE again', async () => {
      // A raw peer plays the line so the test decides what comes back.
      await start({ lines: 0, extraDevices: ['goip01'], client: { commandTimeoutMs: 40, commandRetries: 0 } });
      const peer = await UdpPeer.open();
      peers.push(peer);
      const ack = await peer.request(formatKeepalive({ count: 1, id: 'goip01', password: PASSWORD, fields: { num: '+1', signal: '20' } }), port);
      assert.equal(ack.text, 'reg:1;status:0;');
      const sendIdOf = (m: Received): string => m.text.split(' ')[1];

      const asked = peer.next((m) => m.text.startsWith('get_gsm_num '));
      const answer = client.request('goip01', 'get_gsm_num');
      const id = sendIdOf(await asked);
      await peer.send(`get_imei ${id} 861234567890123\n`, port); // same sendid, other kind
      await peer.send(`OK ${id} 1\n`, port); // a bulk-shaped reply
      await peer.send(`get_gsm_num ${Number(id) + 1} +999\n`, port); // another sendid
      await peer.send(`get_gsm_num ${id} +8613800000000\n`, port);
      await peer.send(`get_gsm_num ${id} +8613800000000\n`, port); // duplicate
      assert.equal(await answer, '+8613800000000');

      // A late answer after the timeout is ignored too, and the next request gets its own.
      const asked2 = peer.next((m) => m.text.startsWith('get_exp_time '));
      const timedOut = rejection(client.request('goip01', 'get_exp_time'));
      const id2 = sendIdOf(await asked2);
      assert.equal((await timedOut).code, 'timeout');
      await peer.send(`get_exp_time ${id2} 5\n`, port);
      const asked3 = peer.next((m) => m.text.startsWith('get_exp_time '));
      const fresh = client.request('goip01', 'get_exp_time');
      const id3 = sendIdOf(await asked3);
      assert.notEqual(id3, id2);
      await peer.send(`get_exp_time ${id3} 6\n`, port);
      assert.equal(await fresh, 6);

      // CFSTATE, its DONE, and DONE again for a repeated final reply.
      const asked4 = peer.next((m) => m.text.startsWith('CF '));
      const cf = client.request('goip01', 'CF', { reason: 1, mode: 3, number: '10086' });
      const id4 = sendIdOf(await asked4);
      const done = peer.next((m) => m.text === `DONE ${id4}\n`);
      await peer.send(`CFSTATE ${id4} 1 10086 0\n`, port);
      assert.deepEqual(await cf, { enable: true, number: '10086', time: 0 });
      await done;
      const again = peer.next((m) => m.text === `DONE ${id4}\n`);
      await peer.send(`CFSTATE ${id4} 1 10086 0\n`, port);
      await again;

      // GSMERROR and a set error carrying the value.
      const asked5 = peer.next((m) => m.text.startsWith('GSM '));
      const gsm = rejection(client.request('goip01', 'GSM'));
      await peer.send(`GSMERROR ${sendIdOf(await asked5)} password error\n`, port);
      assert.equal((await gsm).message, 'GSM failed on line goip01: password error');
      const asked6 = peer.next((m) => m.text.startsWith('set_gsm_num '));
      const set = rejection(client.request('goip01', 'set_gsm_num', { number: '+100' }));
      await peer.send(`ERROR ${sendIdOf(await asked6)} +100 invalid\n`, port);
      assert.equal((await set).deviceText, '+100 invalid');

      assert.ok(client.counters.lateReplies >= 3, JSON.stringify(client.counters));
      assert.equal(client.counters.foreignReplies, 2);
    });

    it('under 30% loss both ways, concurrent commands to two lines succeed or time out, never mismatched', async function () {
      this.timeout(30_000);
      await start({
        lines: 2,
        faults: (i) => ({ loss: 0.3, seed: 17 + i * 101 }),
        client: { commandTimeoutMs: 25, commandRetries: 6, ussdTimeoutMs: 40, ussdRetries: 6 },
        sim: { ussdReplies: { '*100#': 'balance goip01' } },
        perLine: (i) => ({ ussdReplies: { '*100#': `balance ${lineId(i)}` } }),
      });
      type Check = { line: string; command: string; input?: unknown; expect: (value: unknown) => void };
      const checks: Check[] = [];
      for (let i = 0; i < 2; i++) {
        const line = lineId(i);
        const state = sim(line).state;
        const id = identity(i);
        for (let round = 0; round < 3; round++) {
          checks.push(
            { line, command: 'get_gsm_num', expect: (v) => assert.equal(v, id.num) },
            { line, command: 'get_imei', expect: (v) => assert.equal(v, id.imei) },
            { line, command: 'get_exp_time', expect: (v) => assert.equal(v, id.expTime) },
            { line, command: 'CURCELL', expect: (v) => assert.equal(v, id.currentCell) },
            { line, command: 'get_gsm_state', expect: (v) => assert.equal(v, 'IDLE') },
            {
              line,
              command: 'GSM',
              expect: (v) => {
                const gsm = v as GsmInfo;
                assert.deepEqual([gsm.gsmNum, gsm.imei, gsm.expTime], [id.num, id.imei, id.expTime]);
              },
            },
            // Each set echoes its own value: a reply matched to another request would show a wrong one.
            { line, command: 'set_out_call_interval', input: { interval: 10 * i + round }, expect: (v) => assert.equal(v, 10 * i + round) },
            { line, command: 'set_out_call_interval', input: { interval: 100 + 10 * i + round }, expect: (v) => assert.equal(v, 100 + 10 * i + round) },
            { line, command: 'USSD', input: '*100#', expect: (v) => assert.equal(v, `balance ${line}`) },
            { line, command: 'CF', input: { reason: 0, mode: 3, number: '10086' }, expect: (v) => assert.equal(v, true) },
            { line, command: 'svr_drop_call', expect: (v) => assert.equal(v, true) },
            { line, command: 'get_remain_time', expect: (v) => assert.equal(v, state.remainTime) },
          );
        }
      }
      const outcomes = await Promise.all(
        checks.map((c) =>
          client.request(c.line, c.command, c.input).then(
            (value) => ({ c, value, error: null as CommandError | null }),
            (error: CommandError) => ({ c, value: undefined as unknown, error }),
          ),
        ),
      );
      let succeeded = 0;
      for (const { c, value, error } of outcomes) {
        if (error !== null) {
          assert.equal(error.code, 'timeout', `${c.command} on ${c.line}: ${error.message}`);
          assert.match(error.message, new RegExp(`^no answer from line ${c.line} to ${c.command} after 7 tries`));
          continue;
        }
        succeeded++;
        c.expect(value);
      }
      const dropped = sims.reduce((n, s) => n + s.faultCounters.in.dropped + s.faultCounters.out.dropped, 0);
      assert.ok(dropped > 20, `loss happened (${dropped} datagrams dropped)`);
      assert.ok(client.counters.resends > 10, `resends happened (${client.counters.resends})`);
      assert.ok(succeeded >= checks.length * 0.9, `${succeeded}/${checks.length} succeeded`);
      assert.equal(client.busy, 0);
    });

    it('runs every command through 30% loss: each succeeds with the right answer or times out', async function () {
      this.timeout(30_000);
      await start({
        faults: () => ({ loss: 0.3, seed: 5 }),
        client: { commandTimeoutMs: 25, commandRetries: 5, ussdTimeoutMs: 40, ussdRetries: 5 },
      });
      const state = sim('goip01').state;
      const steps: Array<[string, unknown, (v: unknown) => void]> = [
        ['get_gsm_num', undefined, (v) => assert.equal(v, state.num)],
        ['set_gsm_num', { number: '+8613000000000' }, (v) => assert.equal(v, '+8613000000000')],
        ['get_exp_time', undefined, (v) => assert.equal(v, state.expTime)],
        ['set_exp_time', { minutes: 77 }, (v) => assert.equal(v, 77)],
        ['get_remain_time', undefined, (v) => assert.equal(v, state.remainTime)],
        ['reset_remain_time', undefined, (v) => assert.equal(v, true)],
        ['get_gsm_state', undefined, (v) => assert.equal(v, state.gsmState)],
        ['svr_drop_call', undefined, (v) => assert.equal(v, true)],
        ['svr_reboot_module', undefined, (v) => assert.equal(v, true)],
        ['svr_reboot_dev', undefined, (v) => assert.equal(v, true)],
        ['GSM', undefined, (v) => assert.equal((v as GsmInfo).imei, state.imei)],
        ['CF', { reason: 3, mode: 4, number: '10086' }, (v) => assert.equal(v, true)],
        ['USSD', '*100#', (v) => assert.equal(v, 'Your balance is 12.34')],
        ['USSDEXIT', undefined, (v) => assert.equal(v, true)],
        ['get_imei', undefined, (v) => assert.equal(v, state.imei)],
        ['set_imei', { imei: '869999999999999' }, (v) => assert.equal(v, '869999999999999')],
        ['get_out_call_interval', undefined, (v) => assert.equal(v, state.outCallInterval)],
        ['set_out_call_interval', { interval: 4 }, (v) => assert.equal(v, 4)],
        ['module_ctl_i', { value: 1 }, (v) => assert.equal(v, true)],
        ['module_ctl', { value: '1' }, (v) => assert.equal(v, true)],
        ['set_base_cell', { cell: '77' }, (v) => assert.equal(v, '77')],
        ['get_cells_list', undefined, (v) => assert.equal(v, true)],
        ['CURCELL', undefined, (v) => assert.equal(v, state.currentCell)],
        ['ATSTART', undefined, (v) => assert.equal(v, true)],
        ['ATCMD', 'AT', (v) => assert.equal(v, true)],
        ['ATSTOP', undefined, (v) => assert.equal(v, true)],
      ];
      let timeouts = 0;
      let atOpen = false;
      for (const [command, input, expect] of steps) {
        if (command === 'ATCMD' && !atOpen) continue; // the line never heard ATSTART
        try {
          expect(await client.request('goip01', command, input));
          if (command === 'ATSTART') atOpen = true;
        } catch (err) {
          if (!(err instanceof CommandError)) throw err;
          assert.equal(err.code, 'timeout', `${command}: ${err.message}`);
          timeouts++;
        }
      }
      assert.ok(timeouts <= 2, `${timeouts} timeouts`);
      assert.ok(client.counters.resends > 5, `resends happened (${client.counters.resends})`);
    });

    it('shares lines with the bulk engine: neither takes the other\'s replies', async function () {
      this.timeout(20_000);
      await start({ lines: 2, sim: { smsRadioTimeMs: 5 } });
      const outbox = new MemoryOutbox();
      const sender = new BulkSender(server, sendPortOf(outbox), { stepTimeoutMs: 60, waitRecheckMs: 300 });
      senders.push(sender);
      outbox.enqueue({
        batchId: 'b1',
        text: 'hello',
        line: null,
        nodeId: 'n',
        meta: {},
        segments: 1,
        encoding: 'GSM-7',
        recipients: Array.from({ length: 30 }, (_, i) => ({ messageId: `m${i}`, number: `+86138000${String(i).padStart(5, '0')}` })),
      });
      let results = 0;
      const allSent = new Promise<void>((resolve) => sender.on('result', () => ++results === 30 && resolve()));
      sender.start();
      sender.kick();
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, k) => {
          const line = lineId(k % 2);
          return client.request(line, k % 4 < 2 ? 'get_imei' : 'set_exp_time', k % 4 < 2 ? undefined : { minutes: k }).then((v) => [line, k, v] as const);
        }),
      );
      for (const [line, k, v] of answers) assert.equal(v, k % 4 < 2 ? identity(Number(line.slice(4)) - 1).imei : k);
      await allSent;
      assert.equal(outbox.all().filter((r) => r.state === 'sent').length, 30);
      assert.equal(sender.progress().lateResults, 0);
      assert.equal(client.counters.foreignReplies + client.counters.failed, 0);
    });

    it('keeps an AT session alive with ATALIVE until ATSTOP; AT packets arrive in count order, once', async function () {
      this.timeout(20_000);
      const replies = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);
      await start({
        sim: { atReplies: { 'AT+LONG': replies }, atSessionTimeoutMs: 100 },
        faults: () => ({ duplicate: { out: 0.3 }, reorder: { out: 0.3 }, reorderHoldMs: 3, seed: 9 }),
      });
      const sessions: Array<[string, boolean, number]> = [];
      client.on('atSession', (...args) => sessions.push(args));
      const alives = (): number => out.filter((t) => t.startsWith('ATALIVE ')).length;
      assert.equal(await client.request('goip01', 'ATSTART'), true);
      const startId = Number(out.find((t) => t.startsWith('ATSTART '))?.split(' ')[1]);
      assert.deepEqual(client.atSessions().map((s) => [s.line, s.sendId]), [['goip01', startId]]);

      // 5 ATALIVE answered: 150 ms, beyond the device's 100 ms session timeout; still open.
      let answered = 0;
      await new Promise<void>((resolve) => {
        const onCommand = (name: string, _id: number, _reply: string, repeated: boolean): void => {
          if (name !== 'ATALIVE' || repeated || ++answered < 5) return;
          sim('goip01').off('command', onCommand);
          resolve();
        };
        sim('goip01').on('command', onCommand);
      });
      const at: GoipEvent[] = [];
      const last = new Promise<void>((resolve) =>
        server.on('event', (e) => {
          if (e.event !== 'at') return;
          at.push(e);
          if ((e.payload as { count: number }).count === replies.length + 1) resolve();
        }),
      );
      assert.equal(await client.request('goip01', 'ATCMD', 'AT+LONG'), true, 'the session is still open');
      await last;
      const counts = at.map((e) => (e.payload as { count: number }).count);
      for (let i = 1; i < counts.length; i++) assert.ok(counts[i] > counts[i - 1], `counts rise: ${counts.join(',')}`);
      assert.equal(at[0].fields.reportId, String(startId), 'AT packets carry the ATSTART sendid');
      assert.equal((at.find((e) => (e.payload as { count: number }).count === 1)?.payload as { text: string } | undefined)?.text ?? 'write:AT+LONG', 'write:AT+LONG');
      assert.ok(at.length >= replies.length * 0.6, `${at.length} packets`);

      assert.equal(await client.request('goip01', 'ATSTOP'), true);
      assert.deepEqual(client.atSessions(), []);
      const alivesAtStop = alives();
      // 8 keepalive rounds of the line (20 ms each) = 160 ms > 5 ATALIVE periods: none goes out.
      let keepalives = 0;
      await new Promise<void>((resolve) => {
        const onEvent = (e: GoipEvent): void => {
          if (e.event !== 'keepalive' || ++keepalives < 8) return;
          server.off('event', onEvent);
          resolve();
        };
        server.on('event', onEvent);
      });
      assert.equal(alives(), alivesAtStop);
      assert.deepEqual(
        sessions.map(([line, open]) => [line, open]),
        [
          ['goip01', true],
          ['goip01', false],
        ],
      );
    });

    it('stop() closes open AT sessions with ATSTOP and fails waiting requests', async () => {
      await start({ lines: 2 });
      await client.request('goip01', 'ATSTART');
      await sim('goip02').stop();
      const waiting = rejection(client.request('goip02', 'get_gsm_num'));
      const atStop = nextEvent<[string]>(sim('goip01'), 'command', (name) => name === 'ATSTOP');
      await client.stop();
      const err = await waiting;
      assert.equal(err.code, 'stopped');
      await atStop;
      assert.equal((await rejection(client.request('goip01', 'get_gsm_num'))).code, 'stopped');
    });
  });
});
