import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { acceptedLanguages } from '../../http/accept-language.js';
import { escapeHtml, htmlPage, sendHtml } from '../../http/public-page.js';
import type { Clock } from '../../lib/clock.js';
import { isDomainError } from '../../lib/errors.js';
import { createWindowLimiter, type FormFields, parseFormBody } from '../public-pages/index.js';
import { type InvitationStrings, invitationStrings } from './invitation-strings.js';
import { PASSWORD_MAX_LENGTH } from './passwords.js';
import type { InvitationOffer, InvitationProblem, UserService } from './users.service.js';

const PATH = '/invitations/accept';
const FORM_BODY_LIMIT = 16 * 1024;
const Html = Type.String({ description: 'An HTML page.' });
const field = (fields: FormFields, name: string): string | undefined => fields.get(name)?.[0];
const TokenQuery = Type.Object({
  token: Type.Optional(
    Type.String({ maxLength: 2000, description: 'The invitation token of the emailed link.' }),
  ),
});

/**
 * The page the invitation email links to (HERALD_PUBLIC_URL/invitations/accept?token=...):
 * GET shows the workspace, role and address with a password form (none for an
 * address that already has an account) and changes nothing, so mail scanners
 * following the link do no harm; POST accepts. A new account is signed in
 * (the session cookie of POST /v1/session); an existing one is told to sign
 * in with its own password, never signed in by the link.
 */
export function invitationPageRoutes(deps: {
  users: Pick<UserService, 'describeInvitation' | 'acceptInvitation'>;
  clock: Clock;
  /** Origin of HERALD_PUBLIC_URL: a form posted from another origin is refused. */
  publicOrigin: string;
  /** Page views and submissions per minute per client address (HERALD_LOGIN_RATE_LIMIT_PER_MINUTE). */
  rateLimitPerMinute: number;
}): FastifyPluginAsyncTypebox {
  const { users } = deps;
  const limiter = createWindowLimiter({ clock: deps.clock, max: deps.rateLimitPerMinute, windowMs: 60_000 });
  const tags = ['public'];

  return async (app) => {
    // Only the form's fields are read; any other body counts as an empty form.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: FORM_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );

    const stringsFor = (request: FastifyRequest) =>
      invitationStrings(...acceptedLanguages(request.headers['accept-language']));

    /** The per-address limit, shared by views and submissions; false once the page answered 429. */
    function withinLimit(request: FastifyRequest, reply: FastifyReply, t: InvitationStrings): boolean {
      if (limiter.take(request.ip)) return true;
      reply.header('retry-after', '60');
      sendHtml(reply, 429, htmlPage(t.tooManyTitle, `<p>${t.tooManyBody}</p>`, t));
      return false;
    }

    const invalid = (reply: FastifyReply, t: InvitationStrings, problem: InvitationProblem | 'unknown') =>
      sendHtml(reply, 404, htmlPage(t.invalidTitle, `<p>${t.problems[problem]}</p>`, t));

    app.get(
      PATH,
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'Invitation page: the workspace, role and address, with a password form (changes nothing)',
          querystring: TokenQuery,
          response: { 200: Html, 404: Html, 429: Html },
        },
      },
      async (request, reply) => {
        const t = stringsFor(request);
        if (!withinLimit(request, reply, t)) return reply;
        const token = request.query.token ?? '';
        const offer = await users.describeInvitation(token);
        if ('problem' in offer) return invalid(reply, t, offer.problem);
        return sendHtml(reply, 200, acceptPage(t, token, offer));
      },
    );

    app.post(
      PATH,
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'Accept an invitation from its page (form fields token and password)',
          description:
            'Creates the account with the password (at least HERALD_PASSWORD_MIN_LENGTH characters) and signs it in with the session cookie, or adds the workspace to the existing account of the address. A short password shows the form again with the reason.',
          response: { 200: Html, 400: Html, 403: Html, 404: Html, 429: Html },
        },
      },
      async (request, reply) => {
        const t = stringsFor(request);
        if (!withinLimit(request, reply, t)) return reply;
        // A page elsewhere must not sign a visitor's browser in to an account of its choosing.
        if (postedFromElsewhere(request, deps.publicOrigin))
          return sendHtml(reply, 403, htmlPage(t.crossSiteTitle, `<p>${t.crossSiteBody}</p>`, t));
        const body = request.body;
        const fields = Buffer.isBuffer(body)
          ? await parseFormBody(request.headers['content-type'], body)
          : (new Map() as FormFields);
        const token = field(fields, 'token') ?? '';
        const offer = await users.describeInvitation(token);
        if ('problem' in offer) return invalid(reply, t, offer.problem);
        const password = offer.account_exists ? undefined : (field(fields, 'password') ?? '');
        const userAgent = request.headers['user-agent'];
        try {
          const accepted = await users.acceptInvitation({
            token,
            password,
            signIn: { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent : null },
          });
          const workspace = `<strong>${escapeHtml(accepted.workspace.name)}</strong>`;
          const role = escapeHtml(t.roles[accepted.role]);
          if (accepted.session) {
            reply.header('set-cookie', accepted.session.setCookie);
            return sendHtml(reply, 200, htmlPage(t.welcomeTitle, `<p>${t.signedIn(workspace, role)}</p>`, t));
          }
          return sendHtml(
            reply,
            200,
            htmlPage(t.welcomeTitle, `<p>${t.joinedExisting(workspace, role)}</p>`, t),
          );
        } catch (error) {
          if (!isDomainError(error)) throw error;
          if (error.code === 'INVITATION_INVALID') {
            const problem = error.details?.[0]?.problem as InvitationProblem | undefined;
            return invalid(reply, t, problem ?? 'unknown');
          }
          if (error.code === 'VALIDATION_FAILED' && password !== undefined) {
            const length = [...password].length;
            const min = offer.password_min_length;
            const message =
              length === 0
                ? t.choosePassword(min)
                : length < min
                  ? t.passwordTooShort(min, length)
                  : t.passwordTooLong(PASSWORD_MAX_LENGTH);
            return sendHtml(reply, 400, acceptPage(t, token, offer, message));
          }
          throw error;
        }
      },
    );
  };
}

/**
 * Was the form posted by a page of another site? Browsers that send
 * Sec-Fetch-Site say so directly. The Origin header alone cannot tell: under
 * the page's no-referrer policy a browser sends `Origin: null` for its own
 * form, so only a real origin other than HERALD_PUBLIC_URL's is refused.
 */
function postedFromElsewhere(request: FastifyRequest, publicOrigin: string): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') return site !== 'same-origin' && site !== 'none';
  const origin = request.headers.origin;
  return origin !== undefined && origin !== 'null' && origin !== publicOrigin;
}

/** The form: the address (read-only, for password managers), a password for a new account, the button. */
function acceptPage(
  t: InvitationStrings,
  token: string,
  offer: InvitationOffer,
  passwordError?: string,
): string {
  const workspace = escapeHtml(offer.workspace.name);
  const email = escapeHtml(offer.email);
  const role = escapeHtml(t.roles[offer.role]);
  const min = offer.password_min_length;
  const password = offer.account_exists
    ? `<p>${t.existingAccount(`<strong>${email}</strong>`)}</p>`
    : `${passwordError ? `<p id="password-error" role="alert"><strong>${escapeHtml(passwordError)}</strong></p>` : ''}
<label for="password">${t.passwordLabel}</label>
<input type="password" id="password" name="password" autocomplete="new-password" required minlength="${min}" maxlength="${PASSWORD_MAX_LENGTH}" aria-describedby="${passwordError ? 'password-error ' : ''}password-hint"${passwordError ? ' aria-invalid="true" autofocus' : ''}>
<p id="password-hint" class="muted">${escapeHtml(t.passwordHint(min))}</p>`;
  return htmlPage(
    t.joinTitle(offer.workspace.name),
    `<p>${t.invited(`<strong>${workspace}</strong>`, `<strong>${role}</strong>`)}</p>
<form method="post" action="${PATH.slice(PATH.lastIndexOf('/') + 1)}">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<label for="email">${t.emailLabel}</label>
<input type="email" id="email" name="email" value="${email}" autocomplete="username" readonly>
${password}
<div class="actions"><button type="submit">${offer.account_exists ? t.joinButton : t.createButton}</button></div>
</form>
<p class="muted">${escapeHtml(t.expires(t.dateTime(offer.expires_at)))}</p>`,
    t,
  );
}
