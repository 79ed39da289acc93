export { GoipGateway } from './gateway';
export { SendingService, type SubmitRequest, type Submitted } from './sending';
export type { GatewayStatus, GatewayWarning, GoipGatewayEvents, GoipGatewayOptions, WarningSource } from './types';
export { GatewayMetrics } from './metrics';
export { FleetView, type FleetEvent, type FleetLine, type FleetSnapshot, type FleetViewOptions } from './fleet-view';
