import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { apiOrigin, principalOf } from '../../http/auth.js';
import { IdParams, PageOf, PageQuery, responses } from '../../http/schemas.js';
import type { ConsentLedger } from '../consent/index.js';
import {
  ConsentRecordSchema,
  ContactCreateBody,
  ContactListedSchema,
  ContactListQuery,
  ContactPatchBody,
  ContactWithListsSchema,
  ContactWrittenSchema,
} from './contacts.schemas.js';
import type { ContactFilter, ContactService } from './contacts.service.js';

type FilterQuery = {
  status?: ContactFilter['status'];
  list_id?: string;
  list_status?: ContactFilter['listStatus'];
  attribute?: string[];
  tag?: string;
  email?: string;
  created_after?: string;
  created_before?: string;
  updated_after?: string;
  updated_before?: string;
};

/** Turns the filter query parameters shared by listing and export into a service filter. */
export function parseContactFilter(query: FilterQuery): ContactFilter {
  const attributes: Record<string, unknown> = {};
  for (const pair of query.attribute ?? []) {
    const colon = pair.indexOf(':');
    attributes[pair.slice(0, colon)] = pair.slice(colon + 1);
  }
  const date = (value: string | undefined) => (value ? new Date(value) : undefined);
  return {
    status: query.status,
    listId: query.list_id,
    listStatus: query.list_status,
    attributes: Object.keys(attributes).length > 0 ? attributes : undefined,
    tag: query.tag,
    email: query.email,
    createdAfter: date(query.created_after),
    createdBefore: date(query.created_before),
    updatedAfter: date(query.updated_after),
    updatedBefore: date(query.updated_before),
  };
}

/**
 * What the contact routes need of the engagement module: the stored
 * engagement of some contacts (absent: not computed yet). Defined here, by
 * its consumer, and wired in the route table.
 */
export interface ContactEngagementPort {
  forContacts(workspaceId: string, contactIds: readonly string[]): Promise<ReadonlyMap<string, unknown>>;
}

export function contactsRoutes(deps: {
  contacts: ContactService;
  consent: ConsentLedger;
  engagement: ContactEngagementPort;
}): FastifyPluginAsyncTypebox {
  const { contacts, consent, engagement } = deps;
  const tags = ['contacts'];
  return async (app) => {
    app.get(
      '/v1/contacts',
      {
        config: { scope: 'contacts:read' },
        schema: {
          tags,
          summary: 'List and filter contacts',
          description: 'Filters combine with AND. Ordered by creation.',
          querystring: ContactListQuery,
          response: responses({ 200: PageOf(ContactListedSchema) }),
        },
      },
      async (request) => {
        const { limit, cursor, ...filter } = request.query;
        const workspaceId = principalOf(request).workspaceId;
        const page = await contacts.list(workspaceId, parseContactFilter(filter), {
          cursor,
          limit: limit ?? 100,
        });
        // One lookup by primary key for the page.
        const computed = await engagement.forContacts(
          workspaceId,
          page.data.map((c) => c.id),
        );
        return { ...page, data: page.data.map((c) => ({ ...c, engagement: computed.get(c.id) ?? null })) };
      },
    );

    app.post(
      '/v1/contacts',
      {
        config: { scope: 'contacts:write' },
        schema: {
          tags,
          summary: 'Create a contact',
          description:
            'Fails with 409 CONTACT_EXISTS when the email or external_id is taken; use PUT to upsert. ' +
            'The email also meets the workspace hygiene policy: a disposable domain is 400 INVALID_EMAIL by default; ' +
            'role addresses and likely typos are stored and listed in `warnings`.',
          body: ContactCreateBody,
          response: responses({ 201: ContactWrittenSchema }),
        },
      },
      async (request, reply) => {
        const contact = await contacts.create(
          principalOf(request).workspaceId,
          request.body,
          apiOrigin(request),
        );
        return reply.code(201).send(contact);
      },
    );

    app.put(
      '/v1/contacts',
      {
        config: { scope: 'contacts:write' },
        schema: {
          tags,
          summary: 'Create or update a contact (upsert)',
          description:
            'Matches by external_id when given and known, else by email. Attributes are merged (null removes a key). ' +
            'Returns 201 when created, 200 when updated.',
          body: ContactCreateBody,
          response: responses({ 200: ContactWrittenSchema, 201: ContactWrittenSchema }),
        },
      },
      async (request, reply) => {
        const result = await contacts.upsert(
          principalOf(request).workspaceId,
          request.body,
          apiOrigin(request),
        );
        return reply.code(result.created ? 201 : 200).send(result.contact);
      },
    );

    app.get(
      '/v1/contacts/:id',
      {
        config: { scope: 'contacts:read' },
        schema: {
          tags,
          summary: 'Get a contact with its list memberships and engagement',
          params: IdParams,
          response: responses({ 200: ContactWithListsSchema }),
        },
      },
      async (request) => {
        const workspaceId = principalOf(request).workspaceId;
        const contact = await contacts.get(workspaceId, request.params.id);
        const computed = await engagement.forContacts(workspaceId, [contact.id]);
        return { ...contact, engagement: computed.get(contact.id) ?? null };
      },
    );

    app.patch(
      '/v1/contacts/:id',
      {
        config: { scope: 'contacts:write' },
        schema: {
          tags,
          summary: 'Change a contact',
          description:
            'Only the given fields change. attributes merge (null removes a key); tags replaces all tags, add_tags/remove_tags edit them.',
          params: IdParams,
          body: ContactPatchBody,
          response: responses({ 200: ContactWrittenSchema }),
        },
      },
      async (request) =>
        contacts.update(
          principalOf(request).workspaceId,
          request.params.id,
          request.body,
          apiOrigin(request),
        ),
    );

    app.delete(
      '/v1/contacts/:id',
      {
        // Deleting removes the contact's data for good: an erasure.
        config: { scope: 'contacts:write', audit: 'contact.erase' },
        schema: {
          tags,
          summary: 'Delete a contact',
          description: 'Deletes the contact, its list memberships and its consent records.',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await contacts.remove(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/contacts/:id/consent',
      {
        config: { scope: 'contacts:read' },
        schema: {
          tags,
          summary: "A contact's consent records, oldest first",
          description:
            'Every subscribe, confirm, unsubscribe and status change, with its source. Never edited.',
          params: IdParams,
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses({ 200: PageOf(ConsentRecordSchema) }),
        },
      },
      async (request) => {
        const workspaceId = principalOf(request).workspaceId;
        await contacts.get(workspaceId, request.params.id);
        return consent.list(workspaceId, request.params.id, {
          cursor: request.query.cursor,
          limit: request.query.limit ?? 100,
        });
      },
    );
  };
}
