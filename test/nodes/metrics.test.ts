/**
 * GET /goip/<config-id>/metrics: the Prometheus exposition parsed strictly (test/helpers/prometheus.ts)
 * before and after traffic from simulated lines (keepalives, SMS in, a send with its delivery
 * report), one registry per config node (a redeploy starts from zero, nothing doubles), no secret
 * in it, and the parser itself refusing what promtool refuses.
 */
import assert from 'node:assert/strict';
import { DEVICES, flow, helper, listening, type Msg, nextInput, nodes, suiteWithTestLines } from '../helpers/red';
import { type Family, parsePrometheus, sampleValue } from '../helpers/prometheus';
import { register as globalRegistry } from 'prom-client';

function metricsFlow(): Msg[] {
  const f = flow({ stepTimeout: 0.2 });
  f.push(
    { id: 'send', type: 'goip-send', z: 'tab', server: 'cfg', line: '', to: '', toType: 'str', text: '', textType: 'str', country: 'CN', numberFormat: 'e164', wires: [['results']] },
    { id: 'results', type: 'helper', z: 'tab' },
  );
  return f;
}

async function scrape(): Promise<Map<string, Family>> {
  const res = await helper.request().get('/goip/cfg/metrics').expect(200);
  assert.match(String(res.headers['content-type']), /^text\/plain;.*version=0\.0\.4/);
  assert.equal(res.text.includes('secret'), false, 'no password in the metrics');
  return parsePrometheus(res.text);
}

describe('metrics endpoint', () => {
  const { lines } = suiteWithTestLines({ smsRadioTimeMs: 5, deliveryReportAfterMs: 5, signal: 20 });

  it('exposes every metric in the Prometheus text format, and the counters move with traffic', async () => {
    await helper.load(nodes, metricsFlow(), { cfg: { devices: DEVICES } });
    const port = await listening();
    const before = await scrape();
    for (const name of ['goip_line_up', 'goip_line_signal_dbm', 'goip_sms_received_total', 'goip_sms_sent_total', 'goip_sms_failed_total', 'goip_delivery_reports_total', 'goip_queue_recipients', 'goip_datagrams_total', 'goip_report_ack_seconds']) {
      assert.ok(before.has(name), `${name} is exposed`);
    }
    assert.equal(before.get('goip_report_ack_seconds')?.type, 'histogram');
    assert.equal(sampleValue(before, 'goip_sms_received_total', { line: 'goip01' }), 0, 'configured lines start at 0');
    assert.equal(sampleValue(before, 'goip_line_up', { line: 'goip01' }), 0);

    const sims = await lines(port);
    const delivered = nextInput('out', (msg) => msg.event === 'delivery');
    await sims.line('goip01')?.receiveSms('+8613800138000', 'hello');
    await sims.line('goip02')?.receiveSms('+8613800138000', 'again');
    const result = nextInput('results');
    helper.getNode('send').receive({ payload: 'out', to: '+8613900139000', line: 'goip01' });
    assert.equal((await result).payload.status, 'sent');
    await delivered;

    const after = await scrape();
    assert.equal(sampleValue(after, 'goip_line_up', { line: 'goip01' }), 1);
    assert.equal(sampleValue(after, 'goip_line_signal_dbm', { line: 'goip01' }), 2 * 20 - 113);
    assert.equal(sampleValue(after, 'goip_sms_received_total', { line: 'goip01' }), 1);
    assert.equal(sampleValue(after, 'goip_sms_received_total', { line: 'goip02' }), 1);
    assert.equal(sampleValue(after, 'goip_sms_sent_total', { line: 'goip01' }), 1);
    assert.equal(sampleValue(after, 'goip_sms_failed_total', { line: 'goip01' }), 0);
    assert.equal(sampleValue(after, 'goip_delivery_reports_total', { line: 'goip01', status: 'delivered' }), 1);
    assert.equal(sampleValue(after, 'goip_queue_recipients', { state: 'queued' }), 0);
    const datagramsIn = sampleValue(after, 'goip_datagrams_total', { kind: 'in' }) ?? 0;
    assert.ok(datagramsIn > (sampleValue(before, 'goip_datagrams_total', { kind: 'in' }) ?? 0), 'datagrams in moved');
    assert.ok((sampleValue(after, 'goip_datagrams_total', { kind: 'out' }) ?? 0) > 0, 'datagrams out counted');
    // RECEIVE x2, DELIVER and the send's reports were acked: each one observed.
    assert.ok((sampleValue(after, 'goip_report_ack_seconds_count') ?? 0) >= 3);
    // A scrape counts nothing twice.
    const again = await scrape();
    assert.equal(sampleValue(again, 'goip_sms_received_total', { line: 'goip01' }), 1);
    assert.ok((sampleValue(again, 'goip_datagrams_total', { kind: 'in' }) ?? 0) >= datagramsIn);
  });

  it('keeps a registry per config node: a redeploy starts from zero and the global registry stays empty', async () => {
    await helper.load(nodes, metricsFlow(), { cfg: { devices: DEVICES } });
    const sims = await lines(await listening());
    await sims.line('goip01')?.receiveSms('+1', 'one');
    assert.equal(sampleValue(await scrape(), 'goip_sms_received_total', { line: 'goip01' }), 1);
    await helper.unload();
    await helper.load(nodes, metricsFlow(), { cfg: { devices: DEVICES } });
    await listening();
    assert.equal(sampleValue(await scrape(), 'goip_sms_received_total', { line: 'goip01' }), 0);
    assert.equal((await globalRegistry.getMetricsAsJSON()).filter((m) => m.name.startsWith('goip_')).length, 0);
    await helper.request().get('/goip/nope/metrics').expect(404);
  });
});

describe('Prometheus text parser (the test oracle)', () => {
  it('refuses what promtool refuses', () => {
    const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 3\n';
    assert.equal(sampleValue(parsePrometheus(ok), 'a_total', { x: '1' }), 3);
    for (const bad of [
      'a_total 3\n',
      '# TYPE a_total counter\na_total{x=1} 3\n',
      '# TYPE a counter\na 3\n',
      '# TYPE a_total counter\na_total three\n',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 0\n',
      '# TYPE a_total counter\na_total 3',
    ]) {
      assert.throws(() => parsePrometheus(bad), Error, JSON.stringify(bad));
    }
  });
});
