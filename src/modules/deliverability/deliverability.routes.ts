import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { principalOf } from '../../http/auth.js';
import { PageOf, responses } from '../../http/schemas.js';
import { DomainError } from '../../lib/errors.js';
import { parseReport } from '../bounces/index.js';
import {
  BounceEventListQuery,
  BounceEventSchema,
  HealthSchema,
  ImapPollResult,
  RawIntakeResult,
  SettingsPatchSchema,
  SettingsSchema,
  SuppressionCreate,
  SuppressionDeleteQuery,
  SuppressionEmailParams,
  SuppressionListQuery,
  SuppressionSchema,
  WebhookResult,
  WorkspaceParams,
} from './deliverability.schemas.js';
import { type DeliverabilityService, digest } from './deliverability.service.js';
import type { ImapPoller } from './imap-poller.js';
import type { WebhookIntake } from './webhook-intake.js';

const RAW_TYPES = new Set(['message/rfc822', 'text/plain', 'application/octet-stream']);
const CSV_TYPES = new Set(['text/csv', 'application/csv']);

/** Suppression list, bounce events, settings and the authenticated raw intake for an MTA pipe. */
export function deliverabilityRoutes(deps: {
  deliverability: DeliverabilityService;
  imapPoller: Pick<ImapPoller, 'poll'>;
}): FastifyPluginAsyncTypebox {
  const { deliverability } = deps;
  const tags = ['deliverability'];
  return async (app) => {
    // Raw reports arrive as the message itself; JSON routes keep the default parser.
    for (const type of [...RAW_TYPES, ...CSV_TYPES]) {
      app.addContentTypeParser(type, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    }

    app.post(
      '/v1/inbound/raw',
      {
        // Bounce reports piped in by an MTA: high volume; bounce_events is their record.
        config: { scope: 'suppressions:write', audit: false },
        schema: {
          tags,
          summary:
            'Feed one inbound message in (an MTA pipe): a bounce, a complaint or an unsubscribe request',
          description:
            'Send the whole message as the raw body with `Content-Type: message/rfc822`. A message delivered to a ' +
            'List-Unsubscribe mailto address (`u-<token>@<domain>`, found in Delivered-To, X-Original-To, Envelope-To, ' +
            'X-Envelope-To, To or Cc of its own headers) unsubscribes the recipient of the message the token names exactly ' +
            'like its one-click link (`kind: unsubscribe`, `unsubscribe.outcome`); a token that is not valid for this ' +
            'workspace is ignored (200, `ignored`, nothing changes). Anything else is read as a report (a DSN, an ARF abuse ' +
            'report, a qmail/Yahoo/Exim failure notice): each reported recipient is tied to its message (signed VERP return ' +
            'path, else the Original Message-ID, else the address in this workspace) and the bounce policies are applied. ' +
            'The same message sent twice changes nothing the second time. A body that is neither is refused (400 ' +
            'REPORT_UNREADABLE) and nothing is stored; auto-replies are recognised and ignored.',
          consumes: ['message/rfc822'],
          response: responses({ 200: RawIntakeResult }),
        },
      },
      async (request) => {
        const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
        if (!RAW_TYPES.has(type) || !Buffer.isBuffer(request.body)) {
          throw new DomainError(
            'UNSUPPORTED_MEDIA_TYPE',
            `send the bounce message as the raw body with Content-Type: message/rfc822 (got "${type || 'none'}")`,
          );
        }
        const raw = request.body;
        if (raw.length === 0)
          throw new DomainError('REPORT_UNREADABLE', 'the body is empty: send the bounce message');
        const workspaceId = principalOf(request).workspaceId;
        // Unsubscribe requests first: they are told apart by where they were delivered, not by their content.
        const unsubscribe = await deliverability.unsubscribeByMail(workspaceId, raw);
        if (unsubscribe) return { kind: 'unsubscribe', format: 'mailto', results: [], unsubscribe };
        const parsed = parseReport(raw);
        if (parsed.kind === 'unknown' || (parsed.kind !== 'auto_reply' && parsed.recipients.length === 0)) {
          throw new DomainError(
            'REPORT_UNREADABLE',
            'no delivery status notification (RFC 3464), feedback report (RFC 5965) or failure notice with a recipient was found in the message',
          );
        }
        const results = await deliverability.applyReport(workspaceId, parsed, 'smtp', {
          rawDigest: digest(raw),
        });
        return { kind: parsed.kind, format: parsed.format, results };
      },
    );

    app.get(
      '/v1/suppressions',
      {
        config: { scope: 'suppressions:read' },
        schema: {
          tags,
          summary: 'List suppressed addresses (by address), filtered by reason or address prefix',
          querystring: SuppressionListQuery,
          response: responses({ 200: PageOf(SuppressionSchema) }),
        },
      },
      async (request) => {
        const { limit = 100, cursor, reason, email } = request.query;
        return deliverability.listSuppressions(principalOf(request).workspaceId, {
          limit,
          cursor,
          reason,
          email,
        });
      },
    );

    app.post(
      '/v1/suppressions',
      {
        config: { scope: 'suppressions:write' },
        schema: {
          tags,
          summary: 'Suppress an address: nothing is sent to it again, whatever its contact says',
          description: '201 when added; 200 with the existing entry when the address was already suppressed.',
          body: SuppressionCreate,
          response: responses({ 200: SuppressionSchema, 201: SuppressionSchema }),
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { suppression, created } = await deliverability.addSuppression(
          principal.workspaceId,
          request.body,
          {
            source: 'api',
            id: principal.actor.id,
          },
        );
        return reply.code(created ? 201 : 200).send(suppression);
      },
    );

    app.get(
      '/v1/suppressions/export',
      {
        config: { scope: 'suppressions:read', audit: 'suppressions.export' },
        schema: {
          tags,
          summary: 'The whole suppression list as CSV (email, reason, source, note, created_at)',
          produces: ['text/csv'],
          response: responses({ 200: Type.String() }),
        },
      },
      async (request, reply) => {
        const csv = await deliverability.exportSuppressions(principalOf(request).workspaceId);
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="suppressions.csv"')
          .send(csv);
      },
    );

    app.post(
      '/v1/suppressions/import',
      {
        config: { scope: 'suppressions:write' },
        schema: {
          tags,
          summary: 'Add addresses from a CSV file (columns email, reason, note)',
          description:
            'Send the file as the raw body with `Content-Type: text/csv`. All rows are checked first: a bad row ' +
            '(400 VALIDATION_FAILED, with its line) refuses the whole file and nothing is stored. Addresses already ' +
            'suppressed keep their entry.',
          consumes: ['text/csv'],
          response: responses({
            200: Type.Object({
              rows: Type.Integer(),
              added: Type.Integer(),
              already_suppressed: Type.Integer(),
            }),
          }),
        },
      },
      async (request) => {
        const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
        if (!CSV_TYPES.has(type) || !Buffer.isBuffer(request.body)) {
          throw new DomainError(
            'UNSUPPORTED_MEDIA_TYPE',
            `send the CSV file as the raw body with Content-Type: text/csv (got "${type || 'none'}")`,
          );
        }
        const principal = principalOf(request);
        return deliverability.importSuppressions(principal.workspaceId, request.body, {
          source: 'import',
          id: principal.actor.id,
        });
      },
    );

    app.delete(
      '/v1/suppressions/:email',
      {
        config: { scope: 'suppressions:write' },
        schema: {
          tags,
          summary: 'Remove an address from the suppression list, with the reason (recorded)',
          params: SuppressionEmailParams,
          querystring: SuppressionDeleteQuery,
          response: responses({ 200: SuppressionSchema }),
        },
      },
      async (request) => {
        const principal = principalOf(request);
        return deliverability.removeSuppression(
          principal.workspaceId,
          request.params.email,
          request.query.reason,
          {
            id: principal.actor.id,
          },
        );
      },
    );

    app.get(
      '/v1/bounce-events',
      {
        config: { scope: 'suppressions:read' },
        schema: {
          tags,
          summary: 'Bounce, complaint and delay events, oldest first',
          querystring: BounceEventListQuery,
          response: responses({ 200: PageOf(BounceEventSchema) }),
        },
      },
      async (request) => {
        const { limit = 100, cursor, contact_id } = request.query;
        return deliverability.listEvents(principalOf(request).workspaceId, {
          limit,
          cursor,
          contactId: contact_id,
        });
      },
    );

    app.get(
      '/v1/deliverability/health',
      {
        config: { scope: 'suppressions:read' },
        schema: {
          tags,
          summary:
            'Sent, bounces and complaints per mailbox provider for the last 7 and 30 days, with rates and statuses',
          response: responses({ 200: HealthSchema }),
        },
      },
      async (request) => deliverability.health(principalOf(request).workspaceId),
    );

    app.get(
      '/v1/deliverability/settings',
      {
        config: { scope: 'settings:read' },
        schema: {
          tags,
          summary:
            'Bounce policy, guardrail defaults for new campaigns, provider webhook and IMAP settings (secrets only as *_set)',
          response: responses({ 200: SettingsSchema }),
        },
      },
      async (request) => deliverability.getSettings(principalOf(request).workspaceId),
    );

    app.patch(
      '/v1/deliverability/settings',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary:
            'Change the soft-bounce policy, the guardrail defaults for new campaigns, the provider webhook secrets and the bounce mailbox (null clears one)',
          body: SettingsPatchSchema,
          response: responses({ 200: SettingsSchema }),
        },
      },
      async (request) => deliverability.updateSettings(principalOf(request).workspaceId, request.body),
    );

    app.post(
      '/v1/deliverability/imap/poll',
      {
        config: { scope: 'settings:write' },
        schema: {
          tags,
          summary:
            "Read this workspace's bounce mailbox now (IMAP), instead of waiting for the periodic poll",
          description:
            'Reports are applied (source imap) and moved to the processed folder; other messages to the unparsed ' +
            'folder; nothing is deleted. A mailbox that cannot be read is counted in `failed` with the reason in ' +
            '`errors` (200 all the same: the periodic poll tries again). Nothing is read when the mailbox is not enabled.',
          response: responses({ 200: ImapPollResult }),
        },
      },
      async (request) => deps.imapPoller.poll(principalOf(request).workspaceId),
    );
  };
}

/**
 * Public provider webhooks. No API key: the signature (SNS certificate,
 * SendGrid ECDSA, Mailgun HMAC) or Basic credentials (Postmark) checked
 * against the workspace's settings is the credential. Bodies are read raw,
 * because signatures are over the exact bytes.
 */
export function webhookRoutes(deps: { intake: WebhookIntake; bodyLimit: number }): FastifyPluginAsyncTypebox {
  const { intake } = deps;
  const tags = ['webhooks'];
  const schema = (summary: string, description: string) => ({
    tags,
    summary,
    description,
    params: WorkspaceParams,
    response: {
      200: WebhookResult,
      400: Type.Ref('Problem'),
      401: Type.Ref('Problem'),
      403: Type.Ref('Problem'),
      404: Type.Ref('Problem'),
      429: Type.Ref('Problem'),
    },
  });
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: deps.bodyLimit }, (_request, body, done) =>
      done(null, body),
    );
    const rawOf = (body: unknown) => (Buffer.isBuffer(body) ? body : Buffer.alloc(0));

    app.post(
      '/webhooks/ses/:workspaceId',
      {
        config: { public: true },
        schema: schema(
          'Amazon SES bounce and complaint notifications through SNS',
          'Subscribe this URL (HTTPS) to the SNS topic of your SES notifications and add the topic ARN to ses_topic_arns. ' +
            'Messages are checked against the SNS signing certificate; subscription confirmations are confirmed. A message ' +
            'whose signed Timestamp is further from now than HERALD_SNS_WEBHOOK_MAX_AGE_SECONDS is refused (401).',
        ),
      },
      async (request) => intake.ses(request.params.workspaceId, rawOf(request.body)),
    );

    app.post(
      '/webhooks/sendgrid/:workspaceId',
      {
        config: { public: true },
        schema: schema(
          'SendGrid Event Webhook (signed)',
          'Enable the signed Event Webhook and store its verification key as sendgrid_public_key. A request whose signed ' +
            'timestamp is further from now than HERALD_SENDGRID_WEBHOOK_MAX_AGE_SECONDS is refused (401).',
        ),
      },
      async (request) => {
        const header = (name: string) => {
          const value = request.headers[name];
          return typeof value === 'string' ? value : undefined;
        };
        return intake.sendgrid(
          request.params.workspaceId,
          {
            signature: header('x-twilio-email-event-webhook-signature'),
            timestamp: header('x-twilio-email-event-webhook-timestamp'),
          },
          rawOf(request.body),
        );
      },
    );

    app.post(
      '/webhooks/mailgun/:workspaceId',
      {
        config: { public: true },
        schema: schema(
          'Mailgun webhooks (JSON, signed)',
          'Store the HTTP webhook signing key as mailgun_signing_key. Old timestamps are refused; a replayed token is ignored.',
        ),
      },
      async (request) => intake.mailgun(request.params.workspaceId, rawOf(request.body)),
    );

    app.post(
      '/webhooks/postmark/:workspaceId',
      {
        config: { public: true },
        schema: schema(
          'Postmark bounce, spam complaint and delivery webhooks (HTTP Basic)',
          'Put postmark_username and postmark_password in the webhook URL as Basic credentials (https://user:pass@host/...).',
        ),
      },
      async (request) =>
        intake.postmark(request.params.workspaceId, request.headers.authorization, rawOf(request.body)),
    );
  };
}
