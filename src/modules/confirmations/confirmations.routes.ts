import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
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
        reply.type('text/html; charset=utf-8').header('cache-control', 'no-store');
        if (!found) return reply.code(404).send(notFoundPage());
        return reply.send(
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
          params: TokenParams,
          response: { 200: Html, 404: Html },
        },
      },
      async (request, reply) => {
        const userAgent = request.headers['user-agent'];
        const result = await confirmations.confirm(request.params.token, {
          ip: request.ip,
          userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 500) : null,
        });
        reply.type('text/html; charset=utf-8').header('cache-control', 'no-store');
        if (result.outcome === 'invalid') return reply.code(404).send(notFoundPage());
        const name = escapeHtml(result.listName ?? '');
        return reply.send(
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

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
