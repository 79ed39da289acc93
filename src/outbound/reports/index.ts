export {
  type StatusReportCounters,
  type StatusReportOptions,
  type StatusReportServer,
  StatusReportWatcher,
  type StatusReportWatcherEvents,
} from './watcher';
export { deliveryCorrelator, type PduDeliveryPayload, type StatusReportOutbox } from './correlation';
export { type SendRecord } from './message-references';
