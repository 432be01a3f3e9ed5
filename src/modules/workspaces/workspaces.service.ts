import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import { type CreatedApiKey, createApiKeyService } from '../auth/index.js';
import * as repo from './workspaces.repository.js';

export interface Workspace {
  id: string;
  name: string;
  created_at: Date;
}

export function createWorkspaceService(deps: { db: Db; clock: Clock }) {
  const { db, clock } = deps;

  return {
    async create(name: string): Promise<Workspace> {
      const now = clock.now();
      const row = { id: uuidv7(now.getTime()), name, created_at: now };
      await repo.insertWorkspace(db, row);
      return row;
    },

    async get(id: string): Promise<Workspace> {
      const row = await repo.findWorkspace(db, id);
      if (!row) throw new DomainError('WORKSPACE_NOT_FOUND', `workspace ${id} does not exist`);
      return row;
    },

    list(): Promise<Workspace[]> {
      return repo.listWorkspaces(db);
    },

    /**
     * On an empty database, creates the default workspace and its first admin
     * key, whose secret is returned so it can be shown once. Safe when several
     * processes start at the same time: exactly one creates them.
     */
    async bootstrap(): Promise<{ workspace: Workspace; adminKey: CreatedApiKey } | undefined> {
      return repo.withBootstrapLock(db, async (trx) => {
        const existing = await repo.listWorkspaces(trx);
        if (existing.length > 0) return undefined;
        const now = clock.now();
        const workspace = { id: uuidv7(now.getTime()), name: 'Default', created_at: now };
        await repo.insertWorkspace(trx, workspace);
        const adminKey = await createApiKeyService({ db: trx, clock }).create({
          workspaceId: workspace.id,
          name: 'Initial admin key',
          scopes: ['admin'],
        });
        return { workspace, adminKey };
      });
    },
  };
}

export type WorkspaceService = ReturnType<typeof createWorkspaceService>;
