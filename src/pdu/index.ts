export {
  type AddressType,
  type ConcatInfo,
  decodeDeliver,
  decodeStatusReport,
  decodeSubmit,
  type DeliverMessage,
  PduError,
  type PduErrorCode,
  type PduTimestamp,
  type StatusReport,
  type SubmitMessage,
  type TextEncoding,
} from './decode';
export { sameNumber } from './numbers';
export { parseTextStatusReport } from './text-mode';
