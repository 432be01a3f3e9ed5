import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { escapeHtml, htmlPage as page, sendHtml } from '../../http/public-page.js';
import type { ConfirmationService } from './confirmations.service.js';

const TokenParams = Type.Object({ token: Type.String({ maxLength: 400 }) }, { additionalProperties: false });
const Html = Type.String({ description: 'A minimal HTML page.' });

/**
 * The public double opt-in pages. GET only shows a button: mail scanners
 * follow links, so only the POST the button sends confirms.
 */
export function confirmationsRoutes(deps: { confirmations: ConfirmationService }): FastifyPluginAsyncTypebox {
  const { confirmations } = deps;
  const tags = ['public'];
  return async (app) => {
    // The page's form posts an empty urlencoded body; nothing in it is read.
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_req, _body, done) => done(null, undefined),
    );

    app.get(
      '/confirm/:token',
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'Double opt-in confirmation page (shows a confirm button; does not confirm)',
          params: TokenParams,
          response: { 200: Html, 404: Html },
        },
      },
      async (request, reply) => {
        const found = await confirmations.describe(request.params.token);
        if (!found) return sendHtml(reply, 404, notFoundPage());
        return sendHtml(
          reply,
          200,
          page(
            'Confirm your subscription',
            `<p>Please confirm your subscription to <strong>${escapeHtml(found.listName)}</strong>.</p>
<form method="post"><button type="submit">Confirm subscription</button></form>`,
          ),
        );
      },
    );

    app.post(
      '/confirm/:token',
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'Confirm a double opt-in subscription',
          description:
            "A Global Privacy Control header (Sec-GPC: 1) also sets the contact's do_not_sell (CCPA), recorded in the consent ledger with source gpc.",
          params: TokenParams,
          response: { 200: Html, 404: Html },
        },
      },
      async (request, reply) => {
        const userAgent = request.headers['user-agent'];
        const result = await confirmations.confirm(request.params.token, {
          ip: request.ip,
          userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 500) : null,
          // Global Privacy Control: the browser's "do not sell or share", binding under the CCPA.
          gpc: request.headers['sec-gpc'] === '1',
        });
        if (result.outcome === 'invalid') return sendHtml(reply, 404, notFoundPage());
        const name = escapeHtml(result.listName ?? '');
        return sendHtml(
          reply,
          200,
          result.outcome === 'confirmed'
            ? page(
                'Subscription confirmed',
                `<p>Thank you: your subscription to <strong>${name}</strong> is confirmed.</p>`,
              )
            : page(
                'Already confirmed',
                `<p>Your subscription to <strong>${name}</strong> is already confirmed.</p>`,
              ),
        );
      },
    );
  };
}

function notFoundPage(): string {
  return page('Link not valid', '<p>This confirmation link is not valid or has expired.</p>');
}
