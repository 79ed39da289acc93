export { BulkSender } from './engine';
export { FAILURE } from './lines/policy';
export {
  type BulkOptions,
  type BulkProgress,
  type BulkSenderEvents,
  DEFAULT_BULK_OPTIONS,
  DEFAULT_FLEET_HOOKS,
  DEVICE_MAX_SESSIONS,
  type FleetHooks,
  LINE_POLICIES,
  type LinePolicy,
  type LineHealthEvent,
  resolveBulkOptions,
} from './options';
export {
  type StatusReportCounters,
  type StatusReportOptions,
  type StatusReportServer,
  StatusReportWatcher,
  type StatusReportWatcherEvents,
} from './reports/watcher';
export { deliveryCorrelator, type PduDeliveryPayload, type StatusReportOutbox } from './reports/correlation';
export { type SendRecord } from './reports/at-lines';
