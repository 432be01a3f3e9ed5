import type { AttributeType, Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, type Page } from '../../lib/cursor.js';
import { DomainError } from '../../lib/errors.js';
import { ATTRIBUTE_NAME, type Definitions } from './attribute-values.js';
import * as repo from './attributes.repository.js';

export interface AttributeDefinition {
  name: string;
  type: AttributeType;
  description: string | null;
  created_at: Date;
}

export function createAttributeService(deps: { db: Db; clock: Clock }) {
  const { db, clock } = deps;
  const toDefinition = (row: repo.AttributeDefinitionRow): AttributeDefinition => ({
    name: row.name,
    type: row.type,
    description: row.description,
    created_at: row.created_at,
  });

  return {
    async list(
      workspaceId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<AttributeDefinition>> {
      const rows = await repo.listDefinitions(db, workspaceId, {
        after: decodeCursor(page.cursor, (name) => ATTRIBUTE_NAME.test(name)),
        limit: page.limit,
      });
      const data = rows.slice(0, page.limit).map(toDefinition);
      const last = data[data.length - 1];
      return { data, next_cursor: rows.length > page.limit && last ? encodeCursor(last.name) : null };
    },

    /** Name -> type, for validating contact writes. */
    async definitions(workspaceId: string, trx: Db = db): Promise<Definitions> {
      const rows = await repo.listDefinitions(trx, workspaceId);
      return new Map(rows.map((row) => [row.name, row.type]));
    },

    async get(workspaceId: string, name: string): Promise<AttributeDefinition> {
      const row = await repo.findDefinition(db, workspaceId, name);
      if (!row)
        throw new DomainError('ATTRIBUTE_NOT_FOUND', `attribute "${name}" is not defined in this workspace`);
      return toDefinition(row);
    },

    async create(
      workspaceId: string,
      input: { name: string; type: AttributeType; description?: string | null },
    ): Promise<AttributeDefinition> {
      if (!ATTRIBUTE_NAME.test(input.name)) {
        throw new DomainError('VALIDATION_FAILED', `attribute name "${input.name}" is not allowed`, [
          {
            path: '/name',
            message: 'must start with a letter or _ and use only letters, digits, _ . - (max 64)',
          },
        ]);
      }
      const mismatches = await repo.countMismatches(db, workspaceId, input.name, input.type);
      if (mismatches > 0) {
        throw new DomainError(
          'ATTRIBUTE_IN_USE',
          `${mismatches} contacts hold a value of "${input.name}" that is not a ${input.type}; fix or remove those values first`,
        );
      }
      const row = {
        workspace_id: workspaceId,
        name: input.name,
        type: input.type,
        description: input.description ?? null,
        created_at: clock.now(),
      };
      if (!(await repo.insertDefinition(db, row))) {
        throw new DomainError('ATTRIBUTE_EXISTS', `attribute "${input.name}" is already defined`);
      }
      return toDefinition(row);
    },

    async update(
      workspaceId: string,
      name: string,
      changes: { type?: AttributeType; description?: string | null },
    ): Promise<AttributeDefinition> {
      if (changes.type) {
        const mismatches = await repo.countMismatches(db, workspaceId, name, changes.type);
        if (mismatches > 0) {
          throw new DomainError(
            'ATTRIBUTE_IN_USE',
            `${mismatches} contacts hold a value of "${name}" that is not a ${changes.type}; fix or remove those values first`,
          );
        }
      }
      const row = await repo.updateDefinition(db, workspaceId, name, changes);
      if (!row)
        throw new DomainError('ATTRIBUTE_NOT_FOUND', `attribute "${name}" is not defined in this workspace`);
      return toDefinition(row);
    },

    /** Removes the definition only; contacts keep their values, now unchecked. */
    async remove(workspaceId: string, name: string): Promise<void> {
      if (!(await repo.deleteDefinition(db, workspaceId, name))) {
        throw new DomainError('ATTRIBUTE_NOT_FOUND', `attribute "${name}" is not defined in this workspace`);
      }
    },
  };
}

export type AttributeService = ReturnType<typeof createAttributeService>;
