export { auditRoutes } from './audit.routes.js';
export {
  AUDIT_ACTOR_TYPES,
  type AuditActor,
  type AuditEntry,
  type AuditFilter,
  type AuditLog,
  type AuditRecordInput,
  type AuditTarget,
  createAuditLog,
  type WorkspaceVerification,
} from './audit.service.js';
export {
  type ChainAnchor,
  type ChainBreak,
  canonicalJson,
  GENESIS_HASH,
  hashEntry,
} from './audit-chain.js';
