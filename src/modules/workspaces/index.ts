export { createWorkspaceService, type Workspace, type WorkspaceService } from './workspaces.service.js';
