import assert from 'node:assert/strict';
import {
  COMMANDS,
  definitionFor,
  deliveryStatus,
  formatBulkDone,
  formatBulkMessage,
  formatBulkPassword,
  formatBulkSend,
  formatCommand,
  formatKeepalive,
  formatRegAck,
  formatReport,
  formatReportAck,
  formatReportError,
  interpretCommandReply,
  parseBulkReply,
  parseDeviceMessage,
  parseServerMessage,
  REPORTS,
  type Keepalive,
  type Reply,
  type Report,
} from '../../src/protocol';

function keepalive(text: string): Keepalive {
  const m = parseDeviceMessage(text);
  assert.equal(m.kind, 'keepalive', JSON.stringify(m));
  return m as Keepalive;
}
function report(text: string): Report {
  const m = parseDeviceMessage(text);
  assert.equal(m.kind, 'report', JSON.stringify(m));
  return m as Report;
}
function reply(text: string): Reply {
  const m = parseDeviceMessage(text);
  assert.equal(m.kind, 'reply', JSON.stringify(m));
  return m as Reply;
}

describe('protocol: keepalives', () => {
  it('parses the spec example', () => {
    const k = keepalive('req:10;id:goipid1;pass:password1;');
    assert.equal(k.count, '10');
    assert.equal(k.id, 'goipid1');
    assert.equal(k.password, 'password1');
    assert.equal(k.signal, null);
    assert.equal(k.fields.pass, undefined, 'password never stays in fields');
  });

  it('parses the full real-device keepalive with unknown keys, colons and commas in values', () => {
    const k = keepalive(
      'req:27;id:gateway_name;pass:gateway_password;num:;signal:29;gsm_status:LOGIN;voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;imei:867495023958030;imsi:260060172091324;iccid:89480611000720913242;pro:POL;idle:11;disable_status:0;SMS_LOGIN:N;SMB_LOGIN:;CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;',
    );
    assert.equal(k.count, '27');
    assert.equal(k.id, 'gateway_name');
    assert.equal(k.password, 'gateway_password');
    assert.equal(k.num, '');
    assert.equal(k.signal, 29);
    assert.equal(k.gsmStatus, 'LOGIN');
    assert.equal(k.voipStatus, 'LOGOUT');
    assert.equal(k.imei, '867495023958030');
    assert.equal(k.imsi, '260060172091324');
    assert.equal(k.iccid, '89480611000720913242');
    assert.equal(k.carrier, 'POL');
    assert.equal(k.fields.CELLINFO, 'LAC:7E5,CELL ID:5E5B');
    assert.equal(k.fields.SMS_LOGIN, 'N', 'case is kept');
    assert.equal(k.fields.SMB_LOGIN, '');
    assert.equal(k.fields.remain_time, '-1');
    assert.equal(k.fields.idle, '11');
  });

  it('keeps spaces in values, treats (null) and <NULL> as empty, accepts password:, trailing newline and old firmware', () => {
    const k = keepalive('req:1184;id:goip01;password:xxx;num:(null);signal:<NULL>;gsm_status:LOGIN;pro:CHINA UNICOM GSM;\n');
    assert.equal(k.password, 'xxx');
    assert.equal(k.num, '');
    assert.equal(k.signal, null);
    assert.equal(k.carrier, 'CHINA UNICOM GSM');
    const old = keepalive('req:5;id:Go1;pass:p;num:+380960000000;signal:19');
    assert.equal(old.signal, 19);
    assert.equal(old.num, '+380960000000');
    assert.equal(keepalive('req:1;id:+380960000000;pass:p;').id, '+380960000000');
  });

  it('rejects keepalives without id or count', () => {
    assert.equal(parseDeviceMessage('req:;id:a;pass:b;').kind, 'invalid');
    assert.equal(parseDeviceMessage('req:5;pass:b;').kind, 'invalid');
  });
});

describe('protocol: device reports', () => {
  it('RECEIVE as captured from real firmware, with Chinese text', () => {
    const r = report('RECEIVE:1571812849;id:goip-1;password:goip;srcnum:1380013800;msg:测试');
    assert.equal(r.verb, 'RECEIVE');
    assert.equal(r.reportId, '1571812849');
    assert.equal(r.id, 'goip-1');
    assert.equal(r.password, 'goip');
    assert.equal(r.fields.srcnum, '1380013800');
    assert.equal(REPORTS.RECEIVE.payload(r.fields), '测试');
  });

  it('RECEIVE of the spec example spells pass:', () => {
    const r = report('RECEIVE:1270197307;id:goipid1;pass:password1;srcnum:+8613513415667;msg:just a test');
    assert.equal(r.password, 'password1');
    assert.equal(r.fields.msg, 'just a test');
  });

  it('msg runs to the end of the datagram with ; : newlines and emoji, optional fields before it', () => {
    const text = 'a;b:c;\nline 2: ok; 😀 末尾\n';
    const r = report(`RECEIVE:-12345;id:c1;password:pw;srcnum:BANK;smscnum:+8613800100500;senttime:2024-01-01 10:00:00;msg:${text}`);
    assert.equal(r.reportId, '-12345', 'signed ids are kept as sent');
    assert.equal(r.fields.msg, text);
    assert.equal(r.fields.smscnum, '+8613800100500');
    assert.equal(r.fields.senttime, '2024-01-01 10:00:00');
    assert.equal(r.fields.srcnum, 'BANK');
  });

  it('an empty RECEIVE text is an empty string', () => {
    assert.equal(report('RECEIVE:1;id:a;password:b;srcnum:1;msg:').fields.msg, '');
  });

  it('DELIVER maps TP-Status to delivered/pending/failed', () => {
    const r = report('DELIVER:1571812803;id:goip-1;password:goip;sms_no:32;state:0;num:+861380013800');
    assert.deepEqual(REPORTS.DELIVER.payload(r.fields), {
      to: '+861380013800',
      state: 0,
      status: 'delivered',
      smsNo: 32,
      messageId: null,
    });
    assert.equal(deliveryStatus(0), 'delivered');
    assert.equal(deliveryStatus(31), 'delivered');
    assert.equal(deliveryStatus(32), 'pending');
    assert.equal(deliveryStatus(63), 'pending');
    assert.equal(deliveryStatus(64), 'failed');
    assert.equal(deliveryStatus(127), 'failed');
    assert.equal(deliveryStatus(Number.NaN), 'pending');
  });

  it('STATE, RECORD, REMAIN, EXPIRY, CGATT, CELLINFO, BCCH, USSN', () => {
    assert.equal(REPORTS.STATE.payload(report('STATE:446;id:c1;password:pw;gsm_remain_state:DIALING:999999999').fields), 'DIALING:999999999');
    assert.deepEqual(REPORTS.RECORD.payload(report('RECORD:1571812801;id:goip-1;password:goip;dir:1;num:1380013800').fields), {
      direction: 'incoming',
      num: '1380013800',
    });
    assert.equal((REPORTS.RECORD.payload(report('RECORD:1;id:a;password:b;dir:2;num:1').fields) as { direction: string }).direction, 'outgoing');
    assert.equal(REPORTS.REMAIN.payload(report('REMAIN:7568;id:goip-1;password:goip;gsm_remain_time:-1').fields), -1);
    assert.equal(REPORTS.EXPIRY.payload(report('EXPIRY:1571812871;id:goip-1;password:goip;exp:0').fields), 0);
    assert.equal(REPORTS.CGATT.payload(report('CGATT:99;id:a;password:b;cgatt:1').fields), '1');
    assert.equal(REPORTS.CELLINFO.payload(report('CELLINFO:5;id:a;password:b;info:LAC:7E5,CELL ID:5E5B;x').fields), 'LAC:7E5,CELL ID:5E5B;x');
    assert.equal(REPORTS.BCCH.payload(report('BCCH:34348;id:goip-1;password:goip;bcch:689,638,783,785,640,').fields), '689,638,783,785,640,');
    assert.equal(REPORTS.USSN.payload(report('USSN:7;id:a;password:b;msg:Balance: 5.00; valid').fields), 'Balance: 5.00; valid');
  });

  it('HANGUP unpacks the cause from the num field', () => {
    const r = report('HANGUP:1571812814;id:goip-1;password:goip;num:,cause:Normal call clearing');
    assert.equal(r.fields.num, '');
    assert.equal(r.fields.cause, 'Normal call clearing');
    const busy = report('HANGUP:9;id:a;password:b;num:+8613800138000,cause:User busy');
    assert.deepEqual(REPORTS.HANGUP.payload(busy.fields), { num: '+8613800138000', cause: 'User busy' });
  });

  it('CELLS in the real-firmware lists: form and in the spec positional form', () => {
    const named = report('CELLS:34347;id:goip-1;password:goip;lists:689,638,783,785,640,');
    assert.deepEqual(REPORTS.CELLS.payload(named.fields), ['689', '638', '783', '785', '640']);
    const positional = report('CELLS:34347;goip-1;goip;123,456,789,10,');
    assert.equal(positional.id, 'goip-1');
    assert.equal(positional.password, 'goip');
    assert.deepEqual(REPORTS.CELLS.payload(positional.fields), ['123', '456', '789', '10']);
  });

  it('AT packets carry count and the raw AT text to the end', () => {
    const r = report('AT:20;count:1;id:goip-1;password:goip;receive:write:AT+CREG?');
    assert.equal(r.verb, 'AT');
    assert.equal(r.reportId, '20');
    assert.deepEqual(REPORTS.AT.payload(r.fields), { count: 1, text: 'write:AT+CREG?' });
    assert.equal(REPORTS.AT.ack, false);
    const cds = report('AT:21;count:2;id:g;password:p;receive:+CDS: 26\r\n0006080D91683158136777F7602070416530006020704165300000\r\n');
    assert.equal(cds.fields.receive, '+CDS: 26\r\n0006080D91683158136777F7602070416530006020704165300000\r\n');
  });

  it('unknown report verbs are kept with their fields', () => {
    const r = report('SIGNAL:12;id:a;password:b;value:20');
    assert.equal(r.verb, 'SIGNAL');
    assert.equal(r.fields.value, '20');
  });

  it('a later duplicate id field cannot replace the first', () => {
    const r = report('RECEIVE:1;id:good;password:pw;id:evil;srcnum:1;msg:x');
    assert.equal(r.id, 'good');
  });
});

describe('protocol: device replies', () => {
  it('bulk session replies', () => {
    assert.deepEqual(reply('PASSWORD 11\n'), { kind: 'reply', verb: 'PASSWORD', sendId: '11', rest: '', args: [] });
    assert.equal(reply('SEND 11\n').verb, 'SEND');
    assert.deepEqual(reply('WAIT 11 1\n').args, ['1']);
    assert.deepEqual(reply('OK 11 1\n').args, ['1']);
    assert.deepEqual(reply('OK 11 1 32\n').args, ['1', '32']);
    assert.deepEqual(reply('ERROR 11 too_many_sends_in_server\n').args, ['too_many_sends_in_server']);
    assert.deepEqual(reply('ERROR 11 PASSWORD\n').args, ['PASSWORD']);
    assert.deepEqual(reply('ERROR 11 GSM_LOGOUT\n').args, ['GSM_LOGOUT']);
    assert.deepEqual(reply('ERROR 11 3 errorstatus:1\n').args, ['3', 'errorstatus:1']);
    assert.equal(reply('DONE 11\n').verb, 'DONE');
  });

  it('command replies of the spec and of real firmware', () => {
    assert.deepEqual(reply('get_gsm_num 5 +8613800138000').args, ['+8613800138000']);
    assert.deepEqual(reply('set_gsm_num 6 +8613800138000 ok').args, ['+8613800138000', 'ok']);
    assert.deepEqual(reply('ERROR 7 +8613800138000 password error').args, ['+8613800138000', 'password', 'error']);
    assert.deepEqual(reply('GSMERROR 8 no sim').args, ['no', 'sim']);
    assert.deepEqual(reply('CFSTATE 9 1 +8613800138000 20').args, ['1', '+8613800138000', '20']);
    const ussd = reply('USSD 10 Your balance: 12.50 CNY\nValid to 2026-12-01');
    assert.equal(ussd.rest, 'Your balance: 12.50 CNY\nValid to 2026-12-01');
    assert.equal(reply('USSD 11 USSD send failed!').rest, 'USSD send failed!');
    assert.equal(reply('ATSTART 12 OK').rest, 'OK');
  });

  it('the 7-field GSM reply', () => {
    const m = parseDeviceMessage(
      'GSM:1;get_gsm_num:(null);get_exp_time:0;get_remain_time:0;get_gsm_state:IDLE;imei:000000000000000;out_call_interval:0;module_down:0',
    );
    assert.equal(m.kind, 'gsm');
    if (m.kind !== 'gsm') return;
    assert.equal(m.sendId, '1');
    assert.equal(m.fields.get_gsm_num, '');
    assert.equal(m.fields.get_gsm_state, 'IDLE');
    assert.equal(m.fields.module_down, '0');
  });

  it('garbage is invalid, never thrown', () => {
    for (const text of ['', 'hello', ':', ';;;', 'req', 'RECEIVE:abc;id:a', 'RECEIVE:1;password:x;msg:y', '\u0000\u0001', 'OK', '123 456']) {
      assert.equal(parseDeviceMessage(text).kind, 'invalid', JSON.stringify(text));
    }
  });
});

describe('protocol: server messages', () => {
  it('keepalive and report acks', () => {
    assert.equal(formatRegAck('10', '0'), 'reg:10;status:0;');
    assert.equal(formatReportAck('RECEIVE', '1270197307'), 'RECEIVE 1270197307 OK');
    assert.equal(formatReportAck('DELIVER', '-5'), 'DELIVER -5 OK');
    assert.equal(formatReportError('RECEIVE', '1', 'password'), 'RECEIVE 1 ERROR password');
  });

  it('bulk steps; MSG counts UTF-8 bytes', () => {
    assert.equal(formatBulkMessage(11, 'hello'), 'MSG 11 5 hello\n');
    assert.equal(formatBulkMessage(12, '你好'), 'MSG 12 6 你好\n');
    assert.equal(formatBulkMessage(13, '😀'), 'MSG 13 4 😀\n');
    assert.equal(formatBulkPassword(11, 'password1'), 'PASSWORD 11 password1\n');
    assert.equal(formatBulkSend(11, 1, '+8613800138000'), 'SEND 11 1 +8613800138000\n');
    assert.equal(formatBulkDone(11), 'DONE 11\n');
  });

  it('commands put the password where the spec does and USSD has no newline', () => {
    assert.equal(formatCommand('get_gsm_num', 5, 'pw'), 'get_gsm_num 5 pw');
    assert.equal(formatCommand('set_gsm_num', 6, 'pw', ['+86138']), 'set_gsm_num 6 +86138 pw');
    assert.equal(formatCommand('CF', 7, 'pw', ['0', '3', '+86138', '0']), 'CF 7 pw 0 3 +86138 0');
    assert.equal(formatCommand('ussd', 8, 'pw', ['*100#']), 'USSD 8 pw *100#');
    assert.equal(formatCommand('USSDEXIT', 9, 'pw'), 'USSDEXIT 9 pw');
    assert.equal(formatCommand('ATCMD', 10, 'pw', ['AT+CSQ']), 'ATCMD 10 AT+CSQ pw');
    assert.equal(formatCommand('module_ctl', 11, 'pw', ['10120121']), 'module_ctl 11 10120121 pw');
    assert.throws(() => formatCommand('nope', 1, 'pw'), /unknown GoIP command/);
    assert.throws(() => formatCommand('set_imei', 1, 'pw'), /takes 1 argument/);
  });

  it('every server message parses back (the simulator side)', () => {
    assert.deepEqual(parseServerMessage('reg:10;status:0;'), { kind: 'regAck', count: '10', status: '0' });
    assert.deepEqual(parseServerMessage('RECEIVE 12 OK'), { kind: 'reportAck', verb: 'RECEIVE', reportId: '12', ok: true, error: '' });
    assert.deepEqual(parseServerMessage('RECEIVE -3 ERROR password'), { kind: 'reportAck', verb: 'RECEIVE', reportId: '-3', ok: false, error: 'password' });
    assert.deepEqual(parseServerMessage(formatBulkMessage(12, 'a b;c\n你')), { kind: 'bulkMessage', sendId: 12, length: 9, text: 'a b;c\n你' });
    assert.deepEqual(parseServerMessage(formatBulkPassword(1, 'pw')), { kind: 'bulkPassword', sendId: 1, password: 'pw' });
    assert.deepEqual(parseServerMessage(formatBulkSend(1, 2, '+1')), { kind: 'bulkSend', sendId: 1, telId: 2, number: '+1' });
    assert.deepEqual(parseServerMessage(formatBulkDone(1)), { kind: 'bulkDone', sendId: 1 });
    for (const [name, definition] of Object.entries(COMMANDS)) {
      const args = definition.args.map((arg, i) => (definition.freeTextLast && i === definition.args.length - 1 ? 'AT+CMGS="x y"' : `${arg}${i}`));
      const parsed = parseServerMessage(formatCommand(name, 42, 'pw', args));
      assert.deepEqual(parsed, { kind: 'command', name, sendId: 42, password: 'pw', args }, name);
    }
  });
});

describe('protocol: device-side formatting round-trips', () => {
  it('keepalive and reports', () => {
    const k = keepalive(formatKeepalive({ count: 3, id: 'goip01', password: 'pw', fields: { signal: '20', pro: 'CHINA MOBILE' } }));
    assert.equal(k.signal, 20);
    assert.equal(k.carrier, 'CHINA MOBILE');
    const r = report(formatReport('RECEIVE', 99, 'goip01', 'pw', { msg: 'x;y:z', srcnum: '+1' }));
    assert.equal(r.fields.msg, 'x;y:z');
    assert.equal(r.fields.srcnum, '+1');
    const at = report(formatReport('AT', 5, 'goip01', 'pw', { count: '3', receive: 'OK;' }));
    assert.deepEqual(REPORTS.AT.payload(at.fields), { count: 3, text: 'OK;' });
  });
});

describe('protocol: vendor firmware quirks, read as the vendor server reads them', () => {
  it('OK with a trailing space and no sms_no is a sent result with smsNo null', () => {
    for (const datagram of ['OK 11 3 ', 'OK 11 3 \n', 'OK 11 3 \r\n']) {
      assert.deepEqual(parseBulkReply(reply(datagram)), { kind: 'sent', sendId: 11, telId: 3, smsNo: null }, JSON.stringify(datagram));
    }
  });

  it('USSD answers lose the @ padding at their end, not the @ inside them', () => {
    const answer = interpretCommandReply('ussd', reply('USSD 10 Balance 12.50 CNY, mail me@example.com@@@@'));
    assert.deepEqual(answer, { ok: true, value: 'Balance 12.50 CNY, mail me@example.com' });
    assert.deepEqual(interpretCommandReply('ussd', reply('USSD 10 Balance 3.00@@\n')), { ok: true, value: 'Balance 3.00' });
  });

  it('NUMRECORD is acked and emitted with its fields, password removed', () => {
    const m = report('NUMRECORD:1571812901;id:goip01;password:secret;num:+8613800138000;dir:1;time:20');
    assert.equal(m.verb, 'NUMRECORD');
    assert.equal(m.id, 'goip01');
    assert.equal(m.password, 'secret');
    const definition = definitionFor(m.verb);
    assert.equal(definition.event, 'numrecord');
    assert.equal(definition.ack, true);
    assert.deepEqual(definition.payload(m.fields), { id: 'goip01', num: '+8613800138000', dir: '1', time: '20' });
    assert.equal(formatReportAck(m.verb, m.reportId), 'NUMRECORD 1571812901 OK');
  });
});
