import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, PageOf, responses } from '../../http/schemas.js';
import {
  SendingDomainCheckQuery,
  SendingDomainCreateBody,
  SendingDomainListQuery,
  SendingDomainSchema,
  SendingDomainUpdateBody,
} from './sending-domains.schemas.js';
import type { SendingDomainService } from './sending-domains.service.js';

export function sendingDomainsRoutes(deps: {
  sendingDomains: SendingDomainService;
}): FastifyPluginAsyncTypebox {
  const { sendingDomains } = deps;
  const tags = ['sending-domains'];
  return async (app) => {
    app.get(
      '/v1/sending-domains',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: 'List sending domains',
          description: 'Ordered by creation. Private keys are never returned.',
          querystring: SendingDomainListQuery,
          response: responses({ 200: PageOf(SendingDomainSchema) }),
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        return sendingDomains.list(principalOf(request).workspaceId, { cursor, limit: limit ?? 100 });
      },
    );

    app.post(
      '/v1/sending-domains',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Add a sending domain',
          description:
            'Generates a DKIM key (or imports private_key), stores it encrypted and returns the DNS records ' +
            'to publish. With return_path_domain, bounces go to b-<token>@<return_path_domain> and SPF and the ' +
            'bounce MX are published there. 400 INVALID_DOMAIN for a bad domain or return_path_domain; ' +
            '409 SENDING_DOMAIN_EXISTS when the workspace has the domain already.',
          body: SendingDomainCreateBody,
          response: responses({ 201: SendingDomainSchema }),
        },
      },
      async (request, reply) => {
        const domain = await sendingDomains.create(principalOf(request).workspaceId, request.body);
        return reply.code(201).send(domain);
      },
    );

    app.get(
      '/v1/sending-domains/:id',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary: 'Get a sending domain and its DNS record',
          params: IdParams,
          response: responses({ 200: SendingDomainSchema }),
        },
      },
      async (request) => sendingDomains.get(principalOf(request).workspaceId, request.params.id),
    );

    app.patch(
      '/v1/sending-domains/:id',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Change unverified sending or the Return-Path domain',
          description:
            'allow_unverified: true lets campaigns and messages send from the domain although its last check failed (or, with HERALD_REQUIRE_VERIFIED_DOMAINS, before it passed one). return_path_domain sets the dedicated bounce domain of mail this domain signs (null clears it); 400 INVALID_DOMAIN when it is not the domain, a subdomain or under the same organizational domain. Run the check again after changing it: SPF and MX are then looked up at the new domain.',
          params: IdParams,
          body: SendingDomainUpdateBody,
          response: responses({ 200: SendingDomainSchema }),
        },
      },
      async (request) =>
        sendingDomains.update(principalOf(request).workspaceId, request.params.id, request.body),
    );

    app.post(
      '/v1/sending-domains/:id/check',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: "Check the domain's DNS records",
          description:
            "Looks up SPF (one record, with Herald's include, at most 10 lookups), DKIM (Herald's public key at <selector>._domainkey), DMARC (published, its policy, alignment of the From domain with DKIM d= and with the Return-Path domain for SPF), MX (of the domain and the From domain, or of the return_path_domain when set; SPF too is read there) and the PTR of HERALD_SENDING_IP, through HERALD_DNS_SERVERS or the system resolver. Each item says pass, warn, fail, skipped or error and how to fix it. The result is stored as last_check; status becomes verified when DKIM and SPF pass and DMARC exists, else failed (unchanged when a lookup errored).",
          params: IdParams,
          querystring: SendingDomainCheckQuery,
          response: responses({ 200: SendingDomainSchema }),
        },
      },
      async (request) =>
        sendingDomains.check(principalOf(request).workspaceId, request.params.id, request.query),
    );

    app.delete(
      '/v1/sending-domains/:id',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary: 'Delete a sending domain',
          description: 'Its key is deleted; mail from the domain is no longer signed.',
          params: IdParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        await sendingDomains.remove(principalOf(request).workspaceId, request.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}
