/**
 * Which send a delivery report is for, and its state recorded in the outbox:
 * - a DELIVER report: the latest send of its line with the report's sms_no within the delivery
 *   window;
 * - a +CDS status report from the AT stream: the send the message-reference learner found for it
 *   (same line and recipient, sent near the `+CMGS:`). Its `delivery` event is shaped like a
 *   DELIVER report's, with `fields.source = 'pdu'`.
 */
import type { DeliveryCalls } from '../../outbox/store-ports';
import type { Asynchronous } from '../../outbox/types';
import type { DeliveryCorrelator, DeliveryPayload, GoipEvent } from '../../link/goip-server';
import type { StatusReport } from '../../pdu';
import { deliveryStatus, type Fields } from '../../protocol';
import type { SendRecord } from './at-lines';

export function deliveryCorrelator(outbox: Asynchronous<DeliveryCalls>, windowMs: number, warn: (err: unknown) => void): DeliveryCorrelator {
  return async (line, delivery) => {
    if (delivery.smsNo === null) return null;
    try {
      const now = Date.now();
      const recipient = await outbox.correlateDelivery(line, delivery.smsNo, windowMs, now);
      if (recipient === null) return null;
      if (delivery.state !== null) await outbox.markDelivery(recipient.messageId, delivery.state, now);
      return recipient.messageId;
    } catch (err) {
      warn(err);
      return null;
    }
  };
}

/** The part of the outbox the watcher uses. */
export type StatusReportOutbox = Asynchronous<Pick<DeliveryCalls, 'findSentTo' | 'markDelivery'>>;

/** Payload of the `delivery` events the watcher publishes: a DELIVER report's, smsNo null. */
export type PduDeliveryPayload = DeliveryPayload;

const MAX_REPORT_KEYS = 64;

/** Keys (the PDU) of the recent reports of one line: the device and the module repeat them. */
export class RecentReports {
  /** Newest last. */
  private readonly keys: string[] = [];

  /** Remembers `key`; false when it is among the recent ones already. */
  add(key: string): boolean {
    if (this.keys.includes(key)) return false;
    this.keys.push(key);
    if (this.keys.length > MAX_REPORT_KEYS) this.keys.shift();
    return true;
  }
}

/**
 * The outbox message of `send` (same line, recipient, sent at most `slackMs` from its `+CMGS:`),
 * with the report's TP-Status recorded at `now`; null when none. Outbox errors are thrown.
 */
export async function recordDelivery(
  outbox: StatusReportOutbox,
  line: string,
  send: SendRecord,
  report: StatusReport,
  now: number,
  slackMs: number,
): Promise<string | null> {
  const numbers = [send.recipient, report.recipient].filter((n): n is string => n !== null && n !== '');
  for (const number of new Set(numbers)) {
    const recipient = await outbox.findSentTo(line, number, send.at, slackMs);
    if (recipient === null) continue;
    await outbox.markDelivery(recipient.messageId, report.status, now);
    return recipient.messageId;
  }
  return null;
}

/** The `delivery` event of `report` (its PDU, or text-mode line, is `pdu`) on `line`. */
export function deliveryEvent(
  line: string,
  report: StatusReport,
  messageId: string | null,
  pdu: string,
  session: number | null,
): Omit<GoipEvent, 'receivedAt'> {
  const payload: PduDeliveryPayload = {
    to: report.recipient,
    state: report.status,
    status: deliveryStatus(report.status),
    smsNo: null,
    messageId,
  };
  const fields: Fields = {
    id: line,
    verb: 'AT',
    source: 'pdu',
    reference: String(report.reference),
    recipient: report.recipient,
    tpStatus: String(report.status),
    serviceCentreTime: report.serviceCentreTime?.iso ?? '',
    dischargeTime: report.dischargeTime?.iso ?? '',
    pdu,
  };
  if (session !== null) fields.reportId = String(session);
  return { event: 'delivery', line, payload, fields };
}
