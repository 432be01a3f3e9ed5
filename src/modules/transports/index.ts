export { transportsRoutes } from './transports.routes.js';
export { TransportSchema } from './transports.schemas.js';
export {
  createTransportService,
  type LiveTransport,
  type TestSendResult,
  type TransportInput,
  type TransportPatch,
  type TransportService,
  type TransportView,
} from './transports.service.js';
