import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { principalOf } from '../../http/auth.js';
import { IdParams, responses } from '../../http/schemas.js';
import {
  AccessQuery,
  DataExportSchema,
  EraseBody,
  EraseByEmailBody,
  ErasureReceiptSchema,
  RetentionBody,
  RetentionSchema,
} from './privacy.schemas.js';
import type { PrivacyService } from './privacy.service.js';
import type { RetentionPolicy } from './retention.service.js';

const ERASURE =
  "Deletes the person's personal data everywhere, in one transaction: the contact, list memberships, consent " +
  'records, events (also those of its anonymous ids and user id), opens and clicks, campaign send rows, ' +
  'transactional and automation messages, automation runs, engagement, bounce and complaint events, suppression ' +
  'entries, jobs and import report lines that name the address; conversions stay without the person. Rollup ' +
  'counters stay. Only an HMAC of the address stays on the suppression list (reason erased), so the address is ' +
  'refused when created again by the API, an import, a form or an identify call. Irreversible.';

const RETENTION =
  'Per kind of data, how many days Herald keeps it; null keeps it (the default for every kind). An hourly job ' +
  'deletes (or clears) what is older, in batches.';

export function privacyRoutes(deps: {
  privacy: PrivacyService;
  retention: RetentionPolicy;
}): FastifyPluginAsyncTypebox {
  const { privacy, retention } = deps;
  return async (app) => {
    const tags = ['privacy'];

    app.get(
      '/v1/contacts/:id/data-export',
      {
        config: { scope: 'contacts:export' },
        schema: {
          tags,
          summary: "Export everything held about a contact (data subject's right of access)",
          params: IdParams,
          response: responses({ 200: DataExportSchema }),
        },
      },
      async (request) => privacy.exportData(principalOf(request).workspaceId, { id: request.params.id }),
    );

    app.get(
      '/v1/privacy/access',
      {
        config: { scope: 'contacts:export' },
        schema: {
          tags,
          summary: 'Export everything held about the contact with this address (right of access)',
          querystring: AccessQuery,
          response: responses({ 200: DataExportSchema }),
        },
      },
      async (request) => privacy.exportData(principalOf(request).workspaceId, { email: request.query.email }),
    );

    app.post(
      '/v1/contacts/:id/erase',
      {
        config: { scope: 'privacy:erase' },
        schema: {
          tags,
          summary: "Erase a contact's personal data (right to erasure)",
          description: ERASURE,
          params: IdParams,
          body: EraseBody,
          response: responses({ 200: ErasureReceiptSchema }),
        },
      },
      async (request) => {
        const principal = principalOf(request);
        return privacy.erase(
          principal.workspaceId,
          { id: request.params.id },
          { reason: request.body.reason, requestedBy: `${principal.actor.type}:${principal.actor.id}` },
        );
      },
    );

    app.post(
      '/v1/privacy/erase',
      {
        config: { scope: 'privacy:erase' },
        schema: {
          tags,
          summary: 'Erase the personal data of an address (right to erasure)',
          description: `${ERASURE} Works without a contact too: bounces and suppressions of the address go, and the HMAC entry is written.`,
          body: EraseByEmailBody,
          response: responses({ 200: ErasureReceiptSchema }),
        },
      },
      async (request) => {
        const principal = principalOf(request);
        return privacy.erase(
          principal.workspaceId,
          { email: request.body.email },
          { reason: request.body.reason, requestedBy: `${principal.actor.type}:${principal.actor.id}` },
        );
      },
    );

    app.get(
      '/v1/privacy/retention',
      {
        config: { scope: 'privacy:manage' },
        schema: {
          tags,
          summary: 'Get the retention policy',
          description: RETENTION,
          response: responses({ 200: RetentionSchema }),
        },
      },
      async (request) => retention.settings(principalOf(request).workspaceId),
    );

    app.put(
      '/v1/privacy/retention',
      {
        config: { scope: 'privacy:manage' },
        schema: {
          tags,
          summary: 'Set the retention policy',
          description: `${RETENTION} Fields left out keep their value.`,
          body: RetentionBody,
          response: responses({ 200: RetentionSchema }),
        },
      },
      async (request) => retention.update(principalOf(request).workspaceId, request.body),
    );
  };
}
