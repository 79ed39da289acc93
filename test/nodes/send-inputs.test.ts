/** goip-send's inputs from one table: the node's property, then msg.<name>, then msg.payload.<name>. */
import assert from 'node:assert/strict';
import { SEND_INPUTS, sendInputs } from '../../src/nodes/send-inputs';
import type { NodeMessage } from '../../src/nodes/red';

describe('goip-send inputs', () => {
  const none = (): undefined => undefined;

  it('takes each input from the node, else the message, else the payload object', () => {
    const msg: NodeMessage = { to: '+1', line: 'msg-line', group: 'msg-group', payload: { text: 'payload text', to: '+2', line: 'payload-line', group: 'payload-group', priority: 'high' } };
    const fromNode = (name: string): unknown => ({ to: '+3', line: 'node-line' })[name];
    const inputs = sendInputs(msg, fromNode);
    assert.deepEqual([inputs.text, inputs.to, inputs.line, inputs.group], ['payload text', '+3', 'node-line', 'msg-group']);
    assert.equal(inputs.priority, undefined, 'the queue fields come from the message only');
    assert.deepEqual(sendInputs({ payload: { to: '+2', group: 'g' } }, none).group, 'g');
  });

  it('sends the whole payload as the text when it is not an object', () => {
    assert.equal(sendInputs({ payload: 'hello', to: '+1' }, none).text, 'hello');
    assert.equal(sendInputs({ payload: 42, to: '+1' }, none).text, 42);
    assert.equal(sendInputs({ payload: 'hello' }, (name) => (name === 'text' ? 'from the node' : undefined)).text, 'from the node');
    assert.deepEqual(sendInputs({ payload: ['+1', '+2'] }, none).text, ['+1', '+2'], 'an array is not an object of fields: the text check refuses it');
  });

  it('reads the queue fields from the message', () => {
    const inputs = sendInputs({ payload: 'x', priority: 'low', sendAt: 5, validity: 60, expiresAt: 9, batchId: 'b' }, none);
    assert.deepEqual([inputs.priority, inputs.sendAt, inputs.validity, inputs.expiresAt, inputs.batchId], ['low', 5, 60, 9, 'b']);
    assert.deepEqual(Object.keys(SEND_INPUTS).sort(), ['batchId', 'encoding', 'expiresAt', 'group', 'line', 'maxParts', 'missing', 'priority', 'sendAt', 'sticky', 'stickyDays', 'text', 'to', 'validity']);
  });

  it('reads the text rules from the node, else the payload object', () => {
    const payload = { text: 'x', encoding: 'gsm7', maxParts: 2, missing: 'empty' };
    const inputs = sendInputs({ payload, encoding: 'auto', maxParts: 9, missing: 'fail' }, none);
    assert.deepEqual([inputs.encoding, inputs.maxParts, inputs.missing], ['gsm7', 2, 'empty'], 'not msg.<name>: these belong to the text');
    const fromNode = (name: string): unknown => ({ encoding: 'transliterate', maxParts: '1' })[name];
    assert.deepEqual([sendInputs({ payload }, fromNode).encoding, sendInputs({ payload }, fromNode).maxParts], ['transliterate', '1']);
  });
});
