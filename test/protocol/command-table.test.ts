/**
 * The command table (src/protocol/commands.ts) is the one definition of every control command:
 * these tests fail when the editor's list, its help, the locales, the README table or the
 * simulator disagree with it, and when a bulk reply does not read back as it was formatted.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import {
  BULK_SESSION_ERRORS,
  type BulkReply,
  type CommandAnswer,
  type CommandName,
  COMMANDS,
  commandArguments,
  ERROR_STATUS_PREFIX,
  formatBulkReply,
  formatCommand,
  type GsmReply,
  interpretCommandReply,
  parseBulkReply,
  parseDeviceMessage,
  type Reply,
} from '../../src/protocol';
import { SimLine } from '../../src/sim';
import { UdpPeer } from '../helpers/udp';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const read = (file: string): string => fs.readFileSync(path.join(ROOT, file), 'utf8');
const LOCALES = ['en-US', 'zh-CN'];

/** The msg.payload type the help documents for each answer form. */
const PAYLOAD_TYPES: Readonly<Record<CommandAnswer, string>> = {
  text: 'string',
  number: 'number',
  setText: 'string',
  setNumber: 'number',
  ok: 'boolean',
  gsm: 'object',
  cf: 'boolean | object',
  ussd: 'string',
  cells: 'boolean',
  atstart: 'boolean',
  atcmd: 'boolean',
};

const ALL = Object.keys(COMMANDS) as CommandName[];
/** The commands flows send (ATALIVE the server sends on its own). */
const OFFERED = ALL.filter((name) => COMMANDS[name].automatic !== true);

interface EditorEntry {
  name: string;
  /** msg.payload as JSON text; null for a command without arguments. */
  example: string | null;
  reply: string;
}

/** The `COMMANDS` list of nodes/goip-command.html, as the editor runs it. */
function editorCommands(): EditorEntry[] {
  const list = /var COMMANDS = (\[[\s\S]*?\]);/.exec(read('nodes/goip-command.html'));
  assert.ok(list, 'nodes/goip-command.html defines var COMMANDS = [...]');
  const rows = vm.runInNewContext(list[1]) as Array<[string, string | null, string]>;
  // Array.from: arrays of this realm (the vm's fail deepStrictEqual on their prototype).
  return Array.from(rows, ([name, example, reply]) => ({ name, example, reply }));
}

/** The editor's example input of `name` (undefined for commands it does not offer or without arguments). */
function exampleInput(name: string): unknown {
  const example = editorCommands().find((e) => e.name === name)?.example;
  return example === null || example === undefined ? undefined : JSON.parse(example);
}

function sorted(names: Iterable<string>): string[] {
  return [...names].sort();
}

/** Names each once, or the ones repeated. */
function assertUnique(names: readonly string[], where: string): void {
  assert.deepEqual(
    names.filter((name, i) => names.indexOf(name) !== i),
    [],
    `${where} lists a command twice`,
  );
}

/** The `: names (type) : text` entries of a help text's details section (the third `###` heading). */
function helpDetails(html: string): { withArgs: string[]; withoutArgs: string[]; answers: Array<{ names: string[]; type: string }> } {
  const details = html.split(/^### /m)[3];
  assert.ok(details, 'the help has a details section');
  const lines = details.split('\n');
  const commandNames = new Set<string>(ALL);
  const noArgsAt = lines.findIndex((line) => {
    const quoted = [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    return !line.startsWith(':') && quoted.length >= 5 && quoted.every((name) => commandNames.has(name));
  });
  assert.ok(noArgsAt > 0, 'the help lists the commands without arguments');
  const entries = (from: number, to: number): Array<{ names: string[]; type: string }> =>
    lines
      .slice(from, to)
      .map((line) => /^: ([^(]+) \(([^)]+)\) :/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ names: m[1].split(',').map((name) => name.trim()), type: m[2] }));
  return {
    withArgs: entries(0, noArgsAt).flatMap((e) => e.names),
    withoutArgs: [...lines[noArgsAt].matchAll(/`([^`]+)`/g)].map((m) => m[1]),
    answers: entries(noArgsAt + 1, lines.length),
  };
}

/** The README's goip-command table: each row's commands and its `msg.payload in` text. */
function readmeRows(): Array<{ names: string[]; input: string }> {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('## `goip-command`'), readme.indexOf('\n## ', readme.indexOf('## `goip-command`') + 1));
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  assert.ok(rows.length > 0, 'README has a goip-command table');
  return rows.map((row) => {
    const [names, input] = row.split('|').slice(1);
    return { names: [...names.matchAll(/`([^`]+)`/g)].map((m) => m[1]), input };
  });
}

describe('command table: one definition per command', () => {
  it('the editor offers every command flows send, once, with the table\'s answer form and an example its checks accept', () => {
    const editor = editorCommands();
    const names = editor.map((e) => e.name);
    assertUnique(names, 'the editor');
    assert.deepEqual(sorted(names), sorted(OFFERED));
    for (const { name, example, reply } of editor) {
      const definition = COMMANDS[name as CommandName];
      assert.equal(reply, definition.answer, `${name}: the editor's reply kind`);
      assert.equal(example === null, definition.args.length === 0, `${name}: an example exactly when it takes arguments`);
      if (example !== null) assert.equal(commandArguments(name, JSON.parse(example)).length, definition.args.length, name);
    }
  });

  it('each locale names every offered command and describes every answer form', () => {
    const answers = new Set(OFFERED.map((name) => COMMANDS[name].answer));
    for (const locale of LOCALES) {
      const catalog = (JSON.parse(read(`nodes/locales/${locale}/goip-command.json`)) as { 'goip-command': { command: object; reply: object } })['goip-command'];
      assert.deepEqual(sorted(Object.keys(catalog.command)), sorted(OFFERED), `${locale}: goip-command.command`);
      assert.deepEqual(sorted(Object.keys(catalog.reply)), sorted(answers), `${locale}: goip-command.reply`);
    }
  });

  it('each help text documents the arguments and answer of every command as the table has them', () => {
    const helps = { 'en-US': read('nodes/goip-command.html'), 'zh-CN': read('nodes/locales/zh-CN/goip-command.html') };
    for (const [locale, html] of Object.entries(helps)) {
      const help = helpDetails(html);
      assertUnique([...help.withArgs, ...help.withoutArgs], `${locale} help (arguments)`);
      assert.deepEqual(sorted(help.withArgs), sorted(ALL.filter((name) => COMMANDS[name].args.length > 0)), `${locale}: commands with arguments`);
      assert.deepEqual(sorted(help.withoutArgs), sorted(ALL.filter((name) => COMMANDS[name].args.length === 0)), `${locale}: commands without`);
      const answered = help.answers.flatMap((a) => a.names);
      assertUnique(answered, `${locale} help (answers)`);
      assert.deepEqual(sorted(answered), sorted(OFFERED), `${locale}: answers`);
      for (const { names, type } of help.answers) {
        for (const name of names) assert.equal(type, PAYLOAD_TYPES[COMMANDS[name as CommandName].answer], `${locale}: the answer type of ${name}`);
      }
    }
  });

  it('the README table lists every offered command once, each row naming its arguments', () => {
    const rows = readmeRows();
    const names = rows.flatMap((row) => row.names);
    assertUnique(names, 'the README table');
    assert.deepEqual(sorted(names), sorted(OFFERED));
    for (const { names: rowNames, input } of rows) {
      for (const name of rowNames) {
        for (const arg of COMMANDS[name as CommandName].args) assert.match(input, new RegExp(`\\b${arg}\\b`), `README: ${name}'s argument ${arg}`);
      }
    }
  });

  describe('the simulator (raw server socket)', () => {
    const PASSWORD = 'secret';
    let peer: UdpPeer;
    let line: SimLine;

    beforeEach(async () => {
      peer = await UdpPeer.open();
      line = new SimLine({ id: 'goip01', password: PASSWORD, server: { host: '127.0.0.1', port: peer.port }, keepaliveIntervalMs: 60_000, ussdDelayMs: 1, cellsDelayMs: 1 });
      await line.start();
    });
    afterEach(async () => {
      await line.stop();
      await peer.close();
    });

    /** Sends `name` with the editor's example (or no input) and returns the line's answer to that sendid, read by the table. */
    async function ask(name: CommandName, sendId: number, password: string): Promise<{ verb: string; result: ReturnType<typeof interpretCommandReply> }> {
      const args = commandArguments(name, exampleInput(name));
      const address = line.address;
      assert.ok(address);
      const received = await peer.request(formatCommand(name, sendId, password, args), address.port, (m) => {
        const message = parseDeviceMessage(m.text);
        return (message.kind === 'reply' || message.kind === 'gsm') && message.sendId === String(sendId);
      });
      const reply = parseDeviceMessage(received.text) as Reply | GsmReply;
      return { verb: reply.kind === 'reply' ? reply.verb : 'GSM:', result: interpretCommandReply(name, reply, args) };
    }

    it('answers every command of the table, and each answer reads as the table\'s answer form', async () => {
      // With an AT session open throughout: ATSTART first, ATSTOP last.
      const order = (name: CommandName): number => (COMMANDS[name].answer === 'atstart' ? 0 : name === 'ATSTOP' ? 2 : 1);
      const names = [...ALL].sort((a, b) => order(a) - order(b));
      for (const [i, name] of names.entries()) {
        const { result } = await ask(name, 100 + i, PASSWORD);
        assert.ok(result?.ok, `${name}: ${JSON.stringify(result)}`);
        const type = result.value === true ? 'boolean' : typeof result.value;
        assert.ok(PAYLOAD_TYPES[COMMANDS[name].answer].split(' | ').includes(type), `${name} answered a ${type}`);
      }
    });

    it('refuses a wrong password with each command\'s own error verb, which the table reads as a failure', async () => {
      for (const [i, name] of ALL.entries()) {
        const { verb, result } = await ask(name, 200 + i, 'wrong');
        assert.equal(verb, COMMANDS[name].errorVerb, name);
        assert.equal(result?.ok, false, name);
      }
    });
  });
});

describe('bulk replies: one definition for both sides', () => {
  it('every kind of bulk reply reads back as it was formatted', () => {
    const replies: BulkReply[] = [
      { kind: 'passwordRequest', sendId: 7 },
      { kind: 'ready', sendId: 7 },
      { kind: 'wait', sendId: 7, telId: 2 },
      { kind: 'sent', sendId: 7, telId: 2, smsNo: 31 },
      { kind: 'sent', sendId: 7, telId: 2, smsNo: null },
      { kind: 'sendFailed', sendId: 7, telId: 2, status: `${ERROR_STATUS_PREFIX}1` },
      ...Object.entries(BULK_SESSION_ERRORS).map(([error, text]) => ({ kind: 'sessionError', sendId: 7, error, text }) as BulkReply),
      { kind: 'sessionError', sendId: 7, error: 'other', text: 'msg_length_error' },
      { kind: 'done', sendId: 7 },
    ];
    for (const reply of replies) {
      const datagram = formatBulkReply(reply);
      assert.deepEqual(parseBulkReply(parseDeviceMessage(datagram) as Reply), reply, datagram);
    }
  });
});
