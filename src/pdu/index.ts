export {
  type AddressType,
  type ConcatInfo,
  decodeDeliver,
  decodeStatusReport,
  decodeSubmit,
  type DeliverMessage,
  type StatusReport,
  type SubmitMessage,
  type TextEncoding,
} from './decode';
export { PduError, type PduErrorCode } from './octets';
export { type PduTimestamp } from './timestamps';
export { sameNumber } from './numbers';
export { parseTextStatusReport } from './text-mode';
