/**
 * Which send a delivery report (DELIVER) is for: the latest send of `line` with the report's
 * sms_no within the delivery window. Its delivery state is stored on the way.
 */
import type { Outbox } from '../../outbox/types';
import type { DeliveryCorrelator } from '../goip-server';

export function deliveryCorrelator(outbox: Outbox, windowMs: number, warn: (err: unknown) => void): DeliveryCorrelator {
  return (line, delivery) => {
    if (delivery.smsNo === null) return null;
    try {
      const now = Date.now();
      const recipient = outbox.correlateDelivery(line, delivery.smsNo, windowMs, now);
      if (recipient === null) return null;
      if (delivery.state !== null) outbox.markDelivery(recipient.messageId, delivery.state, now);
      return recipient.messageId;
    } catch (err) {
      warn(err);
      return null;
    }
  };
}
