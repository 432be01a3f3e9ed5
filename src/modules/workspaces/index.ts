export { contactZone, type Deferral, nextAllowedSend, quietHoursEnd } from './sending-policy.js';
export { recentMarketingSends } from './sending-policy.repository.js';
export { createSendingPolicyCheck, type SendingPolicyCheck } from './sending-policy-check.js';
export {
  createWorkspaceService,
  type SendingPolicy,
  type Workspace,
  type WorkspaceService,
} from './workspaces.service.js';
