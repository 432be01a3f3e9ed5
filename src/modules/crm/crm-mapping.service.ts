import type { AttributeType, Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { ATTRIBUTE_NAME, type AttributeService, checkAttributes } from '../attributes/index.js';
import type { ConsentOrigin } from '../consent/index.js';
import type { ContactService } from '../contacts/index.js';
import * as repo from './crm.repository.js';

export type FieldMapping = Record<string, { attribute: string; type: AttributeType }>;

export interface CrmContactInput {
  external_id?: string | undefined;
  email?: string | undefined;
  fields?: Record<string, unknown> | undefined;
}

export type CrmContactResult =
  | { index: number; status: 'created' | 'updated'; contact_id: string }
  | { index: number; status: 'failed'; code: string; reason: string };

const CRM_FIELD = /^[^\s/][^/]{0,99}$/;
export const MAX_CRM_CONTACTS = 1000;

/**
 * The generic CRM sync: a workspace's mapping of CRM field names to Herald
 * attributes (with their type), and a batch upsert by external_id (or email)
 * that applies it. Items are independent: a bad one is reported by its index
 * while the good ones are applied.
 */
export function createCrmMapping(deps: {
  db: Db;
  clock: Clock;
  attributes: Pick<AttributeService, 'definitions'>;
  contacts: Pick<ContactService, 'upsert' | 'update' | 'findOne'>;
}) {
  const { db, clock } = deps;

  async function current(workspaceId: string): Promise<FieldMapping | undefined> {
    return (await repo.readFieldMapping(db, workspaceId))?.fields as FieldMapping | undefined;
  }

  /** Maps one item's CRM fields to attributes; errors name the field. */
  function mapFields(
    fields: Record<string, unknown>,
    mapping: FieldMapping,
  ): Record<string, unknown> | string {
    const raw: Record<string, unknown> = {};
    const types = new Map<string, AttributeType>();
    for (const [field, value] of Object.entries(fields)) {
      const target = mapping[field];
      if (!target) return `field "${field}" is not in the mapping (PUT /v1/connectors/crm/mapping)`;
      // CRMs send numbers and booleans for text fields: text attributes take them as text.
      raw[target.attribute] =
        target.type === 'string' && (typeof value === 'number' || typeof value === 'boolean')
          ? String(value)
          : value;
      types.set(target.attribute, target.type);
    }
    const checked = checkAttributes(raw, types, { fromText: true, pathPrefix: '/fields' });
    if (checked.errors.length > 0) return checked.errors.map((e) => e.message).join('; ');
    const attributes: Record<string, unknown> = { ...checked.set };
    for (const name of checked.remove) attributes[name] = null;
    return attributes;
  }

  return {
    async get(workspaceId: string): Promise<{ fields: FieldMapping; updated_at: Date | null }> {
      const row = await repo.readFieldMapping(db, workspaceId);
      return { fields: (row?.fields as FieldMapping | undefined) ?? {}, updated_at: row?.updated_at ?? null };
    },

    /** Replaces the mapping after checking every entry against the attribute schema; nothing changes on an error. */
    async put(
      workspaceId: string,
      fields: FieldMapping,
    ): Promise<{ fields: FieldMapping; updated_at: Date }> {
      const definitions = await deps.attributes.definitions(workspaceId);
      const errors: ErrorDetail[] = [];
      const targets = new Map<string, string>();
      for (const [field, { attribute, type }] of Object.entries(fields)) {
        const path = `/fields/${field}`;
        if (!CRM_FIELD.test(field))
          errors.push({
            path,
            message: `"${field}" is not a field name (1-100 characters, no /, not starting with a space)`,
          });
        if (!ATTRIBUTE_NAME.test(attribute))
          errors.push({
            path,
            message: `"${attribute}" is not an attribute name: start with a letter or _, then letters, digits, _ . - (max 64)`,
          });
        const defined = definitions.get(attribute);
        if (defined && defined !== type)
          errors.push({ path, message: `attribute "${attribute}" is defined as ${defined}, not ${type}` });
        const other = targets.get(attribute);
        if (other !== undefined)
          errors.push({
            path,
            message: `fields "${other}" and "${field}" both map to attribute "${attribute}"`,
          });
        targets.set(attribute, field);
      }
      if (errors.length > 0) {
        throw new DomainError(
          'INVALID_MAPPING',
          `the CRM field mapping is not valid: ${errors.map((e) => e.message).join('; ')}`,
          errors,
        );
      }
      const now = clock.now();
      await repo.saveFieldMapping(db, workspaceId, fields, now);
      return { fields, updated_at: now };
    },

    /**
     * Upserts contacts: by external_id when given and known, else by email
     * (which then records the external_id). Every item gets a result.
     */
    async upsert(
      workspaceId: string,
      items: CrmContactInput[],
      origin: ConsentOrigin,
    ): Promise<{ results: CrmContactResult[]; created: number; updated: number; failed: number }> {
      const mapping = await current(workspaceId);
      if (!mapping) {
        throw new DomainError(
          'CONNECTOR_NOT_READY',
          'no CRM field mapping yet: PUT /v1/connectors/crm/mapping first (an empty mapping is allowed)',
        );
      }
      const results: CrmContactResult[] = [];
      for (const [index, item] of items.entries()) {
        const fail = (code: string, reason: string) =>
          results.push({ index, status: 'failed', code, reason });
        if (!item.external_id && !item.email) {
          fail('VALIDATION_FAILED', 'give external_id, email or both');
          continue;
        }
        const attributes = mapFields(item.fields ?? {}, mapping);
        if (typeof attributes === 'string') {
          fail('INVALID_ATTRIBUTE', attributes);
          continue;
        }
        try {
          const known = item.external_id
            ? await deps.contacts.findOne(workspaceId, { external_id: item.external_id })
            : undefined;
          if (known) {
            const updated = await deps.contacts.update(
              workspaceId,
              known.id,
              { attributes, ...(item.email ? { email: item.email } : {}) },
              origin,
            );
            results.push({ index, status: 'updated', contact_id: updated.id });
          } else if (item.email) {
            const written = await deps.contacts.upsert(
              workspaceId,
              { email: item.email, external_id: item.external_id, attributes },
              origin,
            );
            results.push({
              index,
              status: written.created ? 'created' : 'updated',
              contact_id: written.contact.id,
            });
          } else {
            fail(
              'CONTACT_NOT_FOUND',
              `no contact has external_id "${item.external_id}"; give an email to create it`,
            );
          }
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          fail(error.code, error.message);
        }
      }
      const countOf = (status: string) => results.filter((r) => r.status === status).length;
      return { results, created: countOf('created'), updated: countOf('updated'), failed: countOf('failed') };
    },
  };
}

export type CrmMapping = ReturnType<typeof createCrmMapping>;
