export { SimLine, type SimLineCounters } from './line';
export { startLines, lineIds, type FleetOptions, type SimFleet } from './fleet';
export { Ledger, type SentSms, type ReceivedAck, type DuplicateSms, type LedgerEvents } from './ledger';
export type { FaultOptions, FaultCounters, Rate } from './faults';
export { BULK_ERRORS } from './bulk';
export { mulberry32, type Random } from './prng';
export {
  DEFAULT_USSD_REPLIES,
  USSD_FAILED_TEXT,
  type Firmware,
  type FailedSms,
  type LineState,
  type ReportResult,
  type ServerAddress,
  type SimLineEvents,
  type SimLineOptions,
  type UssdReply,
} from './options';
