/**
 * One definition per device report (`VERB:$id;id:..;password:..;...`): the goip-in event it
 * becomes, whether the device wants an ack, the field that runs to the end of the datagram, and
 * the payload flows see.
 */
import type { Fields } from './fields';

export type DeliveryStatus = 'delivered' | 'pending' | 'failed';

/** GSM 03.40 TP-Status: 0-31 completed, 32-63 SC still trying, 64-127 (and beyond) permanent/given up. */
export function deliveryStatus(tpStatus: number): DeliveryStatus {
  if (!Number.isInteger(tpStatus) || tpStatus < 0) return 'pending';
  if (tpStatus <= 31) return 'delivered';
  if (tpStatus <= 63) return 'pending';
  return 'failed';
}

export function toNumberOrNull(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function listOf(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

export interface ReportDefinition {
  /** goip-in event name. */
  event: string;
  /** `VERB $id OK` expected by the device (it resends otherwise). `AT:` wants no reply. */
  ack: boolean;
  /** Field whose value runs to the end of the datagram. */
  tailKey?: string;
  /** Field the specification's positional form (`VERB:$id;$id;$password;$value`) fills (docs/protocol.md#cell-reports). */
  positionalKey?: string;
  /** Derives extra fields from packed ones (HANGUP packs the cause into `num`). */
  normalize?(fields: Fields): void;
  payload(fields: Fields): unknown;
}

export const REPORTS: Readonly<Record<string, ReportDefinition>> = {
  RECEIVE: { event: 'sms', ack: true, tailKey: 'msg', payload: (f) => f.msg ?? '' },
  DELIVER: {
    event: 'delivery',
    ack: true,
    payload: (f) => {
      const state = toNumberOrNull(f.state);
      return {
        to: f.num ?? '',
        state,
        status: deliveryStatus(state ?? Number.NaN),
        smsNo: toNumberOrNull(f.sms_no),
        messageId: null as string | null,
      };
    },
  },
  STATE: { event: 'state', ack: true, payload: (f) => f.gsm_remain_state ?? '' },
  RECORD: {
    event: 'record',
    ack: true,
    payload: (f) => ({
      direction: f.dir === '1' ? 'incoming' : f.dir === '2' ? 'outgoing' : (f.dir ?? ''),
      num: f.num ?? '',
    }),
  },
  REMAIN: { event: 'remain', ack: true, payload: (f) => toNumberOrNull(f.gsm_remain_time) },
  HANGUP: {
    event: 'hangup',
    ack: true,
    normalize: (f) => {
      const num = f.num ?? '';
      const at = num.indexOf(',cause:');
      if (at !== -1) {
        f.num = num.slice(0, at);
        if (!('cause' in f)) f.cause = num.slice(at + ',cause:'.length);
      }
    },
    payload: (f) => ({ num: f.num ?? '', cause: f.cause ?? '' }),
  },
  EXPIRY: { event: 'expiry', ack: true, payload: (f) => toNumberOrNull(f.exp) },
  CELLS: { event: 'cells', ack: true, positionalKey: 'lists', payload: (f) => listOf(f.lists) },
  CELLINFO: { event: 'cellinfo', ack: true, tailKey: 'info', payload: (f) => f.info ?? '' },
  BCCH: { event: 'bcch', ack: true, tailKey: 'bcch', payload: (f) => f.bcch ?? '' },
  CGATT: { event: 'cgatt', ack: true, payload: (f) => f.cgatt ?? '' },
  USSN: { event: 'ussn', ack: true, tailKey: 'msg', payload: (f) => f.msg ?? '' },
  AT: {
    event: 'at',
    ack: false,
    tailKey: 'receive',
    payload: (f) => ({ count: toNumberOrNull(f.count), text: f.receive ?? '' }),
  },
};

/**
 * A report verb no definition names (newer firmware): acked like the others, so the device
 * stops resending, and emitted under the lower-cased verb.
 */
export function definitionFor(verb: string): ReportDefinition {
  return (
    REPORTS[verb] ?? {
      event: verb.toLowerCase(),
      ack: true,
      payload: (f: Fields) => ({ ...f }),
    }
  );
}

export const TAIL_KEYS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  Object.entries(REPORTS)
    .filter(([, d]) => d.tailKey !== undefined)
    .map(([verb, d]) => [verb, new Set([d.tailKey as string])]),
);
