export { SimLine, type SimLineCounters } from './line';
export { startLines, lineIds, type FleetOptions, type SimFleet } from './fleet';
export { Ledger, type SentSms, type ReceivedAck, type DuplicateSms, type LedgerEvents } from './ledger';
export type { FaultOptions, FaultCounters, Rate } from './faults';
export { BULK_ERRORS } from './bulk';
export { mulberry32, type Random } from './prng';
/** The text the simulator answers a USSD code it has no reply for. */
export { USSD_SEND_FAILED as USSD_FAILED_TEXT } from '../protocol';
export {
  DEFAULT_USSD_REPLIES,
  type Firmware,
  type FailedSms,
  type LineState,
  type ReportResult,
  type ServerAddress,
  type SimLineEvents,
  type SimLineOptions,
  type UssdReply,
} from './options';
