import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { apiOrigin, principalOf } from '../../http/auth.js';
import { IdParams, PageOf, responses } from '../../http/schemas.js';
import {
  ListCreateBody,
  ListListQuery,
  ListPatchBody,
  ListSchema,
  ListWithCountsSchema,
  MemberAddBody,
  MemberAddResult,
  MemberConfirmResult,
  MemberListQuery,
  MemberRemoveResult,
  MemberSchema,
  MemberTargetsBody,
  MemberUnsubscribeResult,
} from './lists.schemas.js';
import type { ListService } from './lists.service.js';

export function listsRoutes(deps: { lists: ListService }): FastifyPluginAsyncTypebox {
  const { lists } = deps;
  const tags = ['lists'];
  return async (app) => {
    app.get(
      '/v1/lists',
      {
        config: { scope: 'lists:read' },
        schema: {
          tags,
          summary: 'List lists',
          description: 'Ordered by creation.',
          querystring: ListListQuery,
          response: responses({ 200: PageOf(ListSchema) }),
        },
      },
      async (request) => {
        const { limit, cursor, visibility } = request.query;
        return lists.list(principalOf(request).workspaceId, { visibility }, { cursor, limit: limit ?? 100 });
      },
    );

    app.post(
      '/v1/lists',
      {
        config: { scope: 'lists:write' },
        schema: {
          tags,
          summary: 'Create a list',
          description: 'Fails with 409 LIST_EXISTS when the workspace has a list of that name in any case.',
          body: ListCreateBody,
          response: responses({ 201: ListSchema }),
        },
      },
      async (request, reply) => {
        const list = await lists.create(principalOf(request).workspaceId, request.body);
        return reply.code(201).send(list);
      },
    );

    app.get(
      '/v1/lists/:id',
      {
        config: { scope: 'lists:read' },
        schema: {
          tags,
          summary: 'Get a list with its member counts',
          params: IdParams,
          response: responses({ 200: ListWithCountsSchema }),
        },
      },
      async (request) => lists.get(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/lists/:id',
      {
        config: { scope: 'lists:write' },
        schema: {
          tags,
          summary: 'Change a list',
          description: 'Only the given fields change. Changing opt_in leaves existing members as they are.',
          params: IdParams,
          body: ListPatchBody,
          response: responses({ 200: ListSchema }),
        },
      },
      async (request) => lists.update(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.delete(
      '/v1/lists/:id',
      {
        config: { scope: 'lists:write' },
        schema: {
          tags,
          summary: 'Delete a list',
          description:
            'Deletes the list and its memberships. The contacts stay, and so do their consent records.',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await lists.remove(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/v1/lists/:id/members',
      {
        config: { scope: 'lists:read' },
        schema: {
          tags,
          summary: "A list's members",
          description: 'Ordered by contact id.',
          params: IdParams,
          querystring: MemberListQuery,
          response: responses({ 200: PageOf(MemberSchema) }),
        },
      },
      async (request) => {
        const { limit, cursor, status } = request.query;
        return lists.members(
          principalOf(request).workspaceId,
          request.params.id,
          { status },
          { cursor, limit: limit ?? 100 },
        );
      },
    );

    app.post(
      '/v1/lists/:id/members',
      {
        config: { scope: 'lists:write' },
        schema: {
          tags,
          summary: 'Add members',
          description:
            'Emails that name no contact create one, unless the workspace hygiene policy refuses the address ' +
            '(a disposable domain, by default). Unknown contact_ids and invalid or refused emails are reported and ' +
            'skipped; the rest are added. Existing members keep their status, except that unsubscribed ' +
            'members are re-subscribed when status is given. Every subscribe and confirm is recorded in ' +
            "the contact's consent records.",
          params: IdParams,
          body: MemberAddBody,
          response: responses({ 200: MemberAddResult }),
        },
      },
      async (request) =>
        lists.addMembers(
          principalOf(request).workspaceId,
          request.params.id,
          request.body,
          apiOrigin(request),
        ),
    );

    app.post(
      '/v1/lists/:id/members/unsubscribe',
      {
        config: { scope: 'lists:write' },
        schema: {
          tags,
          summary: 'Unsubscribe members',
          description: 'The memberships stay, with status unsubscribed, so they are not re-added by mistake.',
          params: IdParams,
          body: MemberTargetsBody,
          response: responses({ 200: MemberUnsubscribeResult }),
        },
      },
      async (request) =>
        lists.unsubscribeMembers(
          principalOf(request).workspaceId,
          request.params.id,
          request.body,
          apiOrigin(request),
        ),
    );

    app.post(
      '/v1/lists/:id/members/confirm',
      {
        config: { scope: 'lists:write' },
        schema: {
          tags,
          summary: 'Confirm members',
          description: 'Marks unconfirmed members confirmed. Unsubscribed members are left as they are.',
          params: IdParams,
          body: MemberTargetsBody,
          response: responses({ 200: MemberConfirmResult }),
        },
      },
      async (request) =>
        lists.confirmMembers(
          principalOf(request).workspaceId,
          request.params.id,
          request.body,
          apiOrigin(request),
        ),
    );

    app.post(
      '/v1/lists/:id/members/remove',
      {
        config: { scope: 'lists:write' },
        schema: {
          tags,
          summary: 'Remove members',
          description:
            'Deletes the memberships; each is recorded as an unsubscribe with detail {removed: true}. ' +
            'To keep a record that someone left the list, unsubscribe instead.',
          params: IdParams,
          body: MemberTargetsBody,
          response: responses({ 200: MemberRemoveResult }),
        },
      },
      async (request) =>
        lists.removeMembers(
          principalOf(request).workspaceId,
          request.params.id,
          request.body,
          apiOrigin(request),
        ),
    );
  };
}
