export { GoipGateway } from './gateway';
export { SendingService, type Submitted } from './sending';
export type { GatewayStatus, GatewayWarning, GoipGatewayEvents, GoipGatewayOptions, WarningSource } from './types';
