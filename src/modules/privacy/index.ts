export { currentErasedKey, erasedKeysFor } from './erased-address.js';
export { ERASURE_STEPS, type ErasureStep, type ErasureTarget } from './erasure.repository.js';
export { privacyRoutes } from './privacy.routes.js';
export {
  createPrivacyService,
  type DataExport,
  ERASURE_KINDS,
  type ErasureReceipt,
  type PersonRef,
  type PrivacyService,
} from './privacy.service.js';
export { RETENTION_KINDS, type RetentionKind } from './retention.repository.js';
export {
  createRetentionPolicy,
  RETENTION_TASK,
  type RetentionPolicy,
  type RetentionSettings,
  retentionTasks,
} from './retention.service.js';
