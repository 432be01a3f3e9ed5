import type { AttributeType, Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, type Page } from '../../lib/cursor.js';
import { DomainError } from '../../lib/errors.js';
import type { EncryptedValueSource, WorkspaceCipher } from '../data-keys/index.js';
import { ATTRIBUTE_NAME, type Definitions } from './attribute-values.js';
import * as repo from './attributes.repository.js';

export interface AttributeDefinition {
  name: string;
  type: AttributeType;
  description: string | null;
  sensitive: boolean;
  created_at: Date;
}

/** Encrypted values are authenticated with their attribute's name: one never decrypts as another. */
const purposeOf = (name: string) => `attribute:${name}`;
const ENCRYPTED_PREFIX = 'hdk1.';

export function createAttributeService(deps: { db: Db; clock: Clock; cipher: WorkspaceCipher }) {
  const { db, clock, cipher } = deps;
  const toDefinition = (row: repo.AttributeDefinitionRow): AttributeDefinition => ({
    name: row.name,
    type: row.type,
    description: row.description,
    sensitive: row.sensitive,
    created_at: row.created_at,
  });

  /** Only text is encrypted: numbers, booleans and dates must stay comparable in segments. */
  function refuseSensitiveType(name: string, type: AttributeType): void {
    if (type === 'string') return;
    throw new DomainError(
      'VALIDATION_FAILED',
      `attribute "${name}" cannot be sensitive: only string attributes are stored encrypted (this one is ${type})`,
      [{ path: '/sensitive', message: `only string attributes may be sensitive, not ${type}` }],
    );
  }

  /** The flag decides the stored form of every value, so it only changes while there are none. */
  async function refuseFlagChangeWithValues(workspaceId: string, name: string, sensitive: boolean) {
    const held = await repo.countValues(db, workspaceId, name);
    if (held === 0) return;
    throw new DomainError(
      'ATTRIBUTE_IN_USE',
      `${held} contacts hold a value of "${name}"; an attribute can only be made ${sensitive ? 'sensitive' : 'not sensitive'} while no contact has a value (remove the values, change the flag, then write them again)`,
      [{ path: '/sensitive', message: `${held} contacts hold a value` }],
    );
  }

  const encryptedValues: EncryptedValueSource = {
    name: 'contacts.attributes (sensitive)',
    // A contact may hold several sensitive values: each row id is `<contact id> <attribute name>`.
    async page(workspaceId, afterId, limit) {
      const names = await repo.sensitiveNames(db, workspaceId);
      const [afterContact, afterName] = afterId ? splitRowId(afterId) : [null, null];
      // One contact more than asked: the first may have nothing left after `afterName`.
      const contacts = await repo.contactsWithEncryptedValues(
        db,
        workspaceId,
        names,
        afterContact ? { id: afterContact, inclusive: true } : null,
        limit + 1,
      );
      const rows: { id: string; purpose: string; value: string }[] = [];
      for (const contact of contacts) {
        for (const [name, value] of Object.entries(contact.values).sort(([a], [b]) => (a < b ? -1 : 1))) {
          if (contact.id === afterContact && afterName !== null && name <= afterName) continue;
          rows.push({ id: `${contact.id} ${name}`, purpose: purposeOf(name), value });
        }
      }
      return rows.slice(0, limit);
    },
    async replace(workspaceId, id, previous, next) {
      const [contactId, name] = splitRowId(id);
      return repo.replaceAttributeValue(db, workspaceId, contactId, name, previous, next);
    },
  };

  async function revealOne(
    workspaceId: string,
    sensitive: ReadonlySet<string>,
    attributes: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    let revealed: Record<string, unknown> | undefined;
    for (const [name, value] of Object.entries(attributes)) {
      if (!sensitive.has(name) || typeof value !== 'string' || !value.startsWith(ENCRYPTED_PREFIX)) continue;
      revealed ??= { ...attributes };
      try {
        revealed[name] = await cipher.decrypt(workspaceId, purposeOf(name), value);
      } catch {
        // A value that no key opens (tampered, or its key lost) is left out rather than shown as ciphertext.
        delete revealed[name];
      }
    }
    return revealed ?? attributes;
  }

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
      input: { name: string; type: AttributeType; description?: string | null; sensitive?: boolean },
    ): Promise<AttributeDefinition> {
      if (!ATTRIBUTE_NAME.test(input.name)) {
        throw new DomainError('VALIDATION_FAILED', `attribute name "${input.name}" is not allowed`, [
          {
            path: '/name',
            message: 'must start with a letter or _ and use only letters, digits, _ . - (max 64)',
          },
        ]);
      }
      const sensitive = input.sensitive ?? false;
      if (sensitive) {
        refuseSensitiveType(input.name, input.type);
        await refuseFlagChangeWithValues(workspaceId, input.name, true);
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
        sensitive,
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
      changes: { type?: AttributeType; description?: string | null; sensitive?: boolean },
    ): Promise<AttributeDefinition> {
      if (changes.type !== undefined || changes.sensitive !== undefined) {
        const current = await repo.findDefinition(db, workspaceId, name);
        if (!current)
          throw new DomainError(
            'ATTRIBUTE_NOT_FOUND',
            `attribute "${name}" is not defined in this workspace`,
          );
        const sensitive = changes.sensitive ?? current.sensitive;
        if (sensitive) refuseSensitiveType(name, changes.type ?? current.type);
        if (sensitive !== current.sensitive) await refuseFlagChangeWithValues(workspaceId, name, sensitive);
      }
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
      const current = await repo.findDefinition(db, workspaceId, name);
      // Without the definition its encrypted values could no longer be read back.
      if (current?.sensitive) await refuseFlagChangeWithValues(workspaceId, name, false);
      if (!(await repo.deleteDefinition(db, workspaceId, name))) {
        throw new DomainError('ATTRIBUTE_NOT_FOUND', `attribute "${name}" is not defined in this workspace`);
      }
    },

    /** Names of the workspace's sensitive attributes. */
    async sensitiveNames(workspaceId: string, trx: Db = db): Promise<ReadonlySet<string>> {
      return new Set(await repo.sensitiveNames(trx, workspaceId));
    },

    /**
     * Encrypts the string values of sensitive attributes in a write (other
     * values, and nulls meaning "remove", pass unchanged; type errors are left
     * to checkAttributes). Call it before the write's transaction opens: the
     * cipher may read the database.
     */
    async seal(workspaceId: string, values: Record<string, unknown>): Promise<Record<string, unknown>> {
      const sensitive = new Set(await repo.sensitiveNames(db, workspaceId));
      if (sensitive.size === 0) return values;
      return sealWith(workspaceId, sensitive, values);
    },

    /** `seal` for many writes with one lookup of the names (an import batch). */
    async sealMany(
      workspaceId: string,
      values: (Record<string, unknown> | null)[],
    ): Promise<(Record<string, unknown> | null)[]> {
      const sensitive = new Set(await repo.sensitiveNames(db, workspaceId));
      if (sensitive.size === 0) return values;
      const sealed: (Record<string, unknown> | null)[] = [];
      for (const value of values) sealed.push(value ? await sealWith(workspaceId, sensitive, value) : value);
      return sealed;
    },

    /** Decrypts the sensitive values of stored attributes, for showing or rendering them. */
    async reveal(workspaceId: string, attributes: Record<string, unknown>): Promise<Record<string, unknown>> {
      const sensitive = new Set(await repo.sensitiveNames(db, workspaceId));
      return sensitive.size === 0 ? attributes : revealOne(workspaceId, sensitive, attributes);
    },

    /** `reveal` over many contacts with one lookup of the names; returns copies, in order. */
    async revealAll<T extends { attributes: Record<string, unknown> }>(
      workspaceId: string,
      items: T[],
    ): Promise<T[]> {
      if (items.length === 0) return items;
      const sensitive = new Set(await repo.sensitiveNames(db, workspaceId));
      if (sensitive.size === 0) return items;
      const revealed: T[] = [];
      for (const item of items)
        revealed.push({ ...item, attributes: await revealOne(workspaceId, sensitive, item.attributes) });
      return revealed;
    },

    /**
     * `reveal` with the names looked up once, for rendering many messages of one workspace
     * (a campaign's recipients). Changes of the flag after the call are not seen.
     */
    async revealerFor(
      workspaceId: string,
    ): Promise<(attributes: Record<string, unknown>) => Promise<Record<string, unknown>>> {
      const sensitive = new Set(await repo.sensitiveNames(db, workspaceId));
      return async (attributes) =>
        sensitive.size === 0 ? attributes : revealOne(workspaceId, sensitive, attributes);
    },

    /** The rotation source re-encrypting sensitive values (`herald keys rotate-data`). */
    encryptedValues,
  };

  async function sealWith(
    workspaceId: string,
    sensitive: ReadonlySet<string>,
    values: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    let sealed: Record<string, unknown> | undefined;
    for (const [name, value] of Object.entries(values)) {
      if (!sensitive.has(name) || typeof value !== 'string') continue;
      sealed ??= { ...values };
      sealed[name] = await cipher.encrypt(workspaceId, purposeOf(name), value);
    }
    return sealed ?? values;
  }
}

function splitRowId(id: string): [string, string] {
  const space = id.indexOf(' ');
  return [id.slice(0, space), id.slice(space + 1)];
}

export type AttributeService = ReturnType<typeof createAttributeService>;
