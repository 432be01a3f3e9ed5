import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { acceptedLanguages } from '../../http/accept-language.js';
import { EMAIL_VIEW_CSP, escapeHtml, htmlPage, sendHtml } from '../../http/public-page.js';
import { type FormFields, field, parseFormBody } from './form-body.js';
import { type PageStrings, pageStrings } from './page-strings.js';
import type { NamedList, PageOrigin, PreferencesView, PublicPagesService } from './public-pages.service.js';

const TokenParams = Type.Object({ token: Type.String({ maxLength: 400 }) }, { additionalProperties: false });
const ListParams = Type.Object(
  { listId: Type.String({ maxLength: 100, description: 'The id of a public list.' }) },
  { additionalProperties: false },
);
const Html = Type.String({ description: 'An HTML page.' });
const FORM_BODY_LIMIT = 64 * 1024;

/**
 * The public pages behind signed links and the hosted subscribe form. No
 * cookies anywhere: the signed token in the URL is the credential. GET pages
 * never change anything (mail scanners follow links); only POSTs do.
 */
export function publicPagesRoutes(deps: { pages: PublicPagesService }): FastifyPluginAsyncTypebox {
  const { pages } = deps;
  const tags = ['public'];
  return async (app) => {
    // Only form bodies are read; every other body is accepted and ignored, so a
    // one-click unsubscribe never fails on how the client encoded it.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: FORM_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );

    async function formOf(request: FastifyRequest): Promise<FormFields> {
      const body = request.body;
      if (!Buffer.isBuffer(body)) return new Map();
      return parseFormBody(request.headers['content-type'], body);
    }

    /** The contact's language when the page is about one, else the browser's. */
    function stringsFor(request: FastifyRequest, locale?: string | null): PageStrings {
      return pageStrings(locale, ...acceptedLanguages(request.headers['accept-language']));
    }

    app.get(
      '/u/:token',
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'Unsubscribe page: asks to confirm (does not unsubscribe) and links the preference center',
          params: TokenParams,
          response: { 200: Html, 404: Html },
        },
      },
      async (request, reply) => {
        const found = await pages.describeUnsubscribe(request.params.token);
        if (!found) return sendHtml(reply, 404, notFoundPage(stringsFor(request)));
        const t = stringsFor(request, found.locale);
        const what = listPhrase(found.lists, t);
        const hidden =
          '<input type="hidden" name="List-Unsubscribe" value="One-Click"><input type="hidden" name="source" value="page">';
        let body: string;
        if (found.allDone) {
          body = `<p>${t.alreadyAll}</p>`;
        } else if (found.listsDone || found.lists.length === 0) {
          body = `${what ? `<p>${t.alreadyFrom(what)}</p>` : ''}
<form method="post">${hidden}<input type="hidden" name="scope" value="all">
<div class="actions"><button type="submit">${t.unsubscribeAllButton}</button></div>
</form>`;
        } else {
          body = `<form method="post">${hidden}
<fieldset><legend>${t.unsubscribeFrom}</legend>
<label class="choice"><input type="radio" name="scope" value="lists" checked><span>${what}</span></label>
<label class="choice"><input type="radio" name="scope" value="all"><span>${t.allMarketing}</span></label>
</fieldset>
<div class="actions"><button type="submit">${t.unsubscribeButton}</button></div>
</form>`;
        }
        const link = (text: string) => `<a href="${escapeHtml(found.preferencesUrl)}">${text}</a>`;
        return sendHtml(reply, 200, htmlPage(t.unsubscribeTitle, `${body}\n<p>${t.orChoose(link)}</p>`, t));
      },
    );

    app.post(
      '/u/:token',
      {
        config: { public: true },
        bodyLimit: FORM_BODY_LIMIT,
        schema: {
          tags,
          summary: 'Unsubscribe at once (RFC 8058 one-click)',
          description:
            'The target of `List-Unsubscribe` with `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. ' +
            'Accepts `application/x-www-form-urlencoded` and `multipart/form-data` bodies (the content is ' +
            'not required), sets no cookies, never redirects, and answers 200 on repeats. Unsubscribes from ' +
            'the lists the email was sent to; the page form may send `scope=all` to opt out of all marketing ' +
            'email. Invalid or tampered links get 404.',
          params: TokenParams,
          response: { 200: Html, 404: Html },
        },
      },
      async (request, reply) => {
        const form = await formOf(request);
        const result = await pages.unsubscribe(
          request.params.token,
          {
            scope: field(form, 'scope') === 'all' ? 'all' : 'lists',
            method: field(form, 'source') === 'page' ? 'page' : 'one-click',
          },
          originOf(request),
        );
        if (result.outcome === 'invalid') return sendHtml(reply, 404, notFoundPage(stringsFor(request)));
        const t = stringsFor(request, result.locale);
        const all = result.scope === 'all';
        const what = listPhrase(result.lists, t);
        const text =
          result.outcome === 'unsubscribed'
            ? all
              ? t.noLongerAll
              : t.noLonger(what)
            : all
              ? t.wereAlreadyAll
              : t.wereAlready(what);
        return sendHtml(reply, 200, htmlPage(t.unsubscribedTitle, `<p>${text}</p>`, t));
      },
    );

    app.get(
      '/p/:token',
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'Preference center: the public lists with the contact’s status',
          params: TokenParams,
          response: { 200: Html, 404: Html },
        },
      },
      async (request, reply) => {
        const view = await pages.preferences(request.params.token);
        if (!view) return sendHtml(reply, 404, notFoundPage(stringsFor(request)));
        return sendHtml(reply, 200, preferencesPage(view, stringsFor(request, view.locale)));
      },
    );

    app.post(
      '/p/:token',
      {
        config: { public: true },
        bodyLimit: FORM_BODY_LIMIT,
        schema: {
          tags,
          summary: 'Save the preference center form',
          description:
            'Form fields: `nonce` (from the page), `list` (repeated: the ids of the public lists to receive), ' +
            '`action` = `save` or `unsubscribe_all`. Without a recent nonce from the page nothing changes (403). ' +
            'Every change is written to the consent ledger.',
          params: TokenParams,
          response: { 200: Html, 403: Html, 404: Html },
        },
      },
      async (request, reply) => {
        const form = await formOf(request);
        const result = await pages.savePreferences(
          request.params.token,
          {
            nonce: field(form, 'nonce'),
            subscribed: form.get('list') ?? [],
            action: field(form, 'action') === 'unsubscribe_all' ? 'unsubscribe_all' : 'save',
            // The page always sends `tracking` (hidden) so an absent box means "do not track".
            allowTracking: form.has('tracking') ? field(form, 'no_tracking') !== '1' : undefined,
            // The same hidden field tells that the page carried the do-not-sell box.
            doNotSell: form.has('tracking') ? field(form, 'do_not_sell') === '1' : undefined,
          },
          originOf(request),
        );
        const view = result.outcome === 'invalid' ? undefined : await pages.preferences(request.params.token);
        if (!view) return sendHtml(reply, 404, notFoundPage(stringsFor(request)));
        const t = stringsFor(request, view.locale);
        if (result.outcome === 'expired') {
          const link = (text: string) => `<a href="">${text}</a>`;
          return sendHtml(reply, 403, htmlPage(t.expiredTitle, `<p>${t.expiredBody(link)}</p>`, t));
        }
        return sendHtml(
          reply,
          200,
          preferencesPage(view, t, result.outcome === 'unsubscribed_all' ? t.savedAll : t.saved),
        );
      },
    );

    app.get(
      '/m/:token',
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'View in browser: the campaign as this contact received it',
          params: TokenParams,
          response: { 200: Html, 404: Html },
        },
      },
      async (request, reply) => {
        const view = await pages.view(request.params.token);
        if (!view) return sendHtml(reply, 404, notFoundPage(stringsFor(request)));
        return sendHtml(reply, 200, view.html, EMAIL_VIEW_CSP);
      },
    );

    app.get(
      '/f/:listId',
      {
        config: { public: true },
        schema: {
          tags,
          summary: 'Hosted subscribe form of a public list',
          description: 'Private and unknown lists get 404.',
          params: ListParams,
          response: { 200: Html, 404: Html },
        },
      },
      async (request, reply) => {
        const t = stringsFor(request);
        const form = await pages.form(request.params.listId, t.lang);
        if (!form) return sendHtml(reply, 404, notFoundPage(t));
        return sendHtml(reply, 200, subscribePage(form, t));
      },
    );

    app.post(
      '/f/:listId',
      {
        config: { public: true },
        bodyLimit: FORM_BODY_LIMIT,
        schema: {
          tags,
          summary: 'Subscribe through the hosted form',
          description:
            'Form fields: `email`, optional `first_name` (kept only for a new contact), and the honeypot ' +
            '`website`, which people leave empty. The answer never tells whether the address was known. ' +
            'Double opt-in lists send the confirmation email; single opt-in lists subscribe at once. ' +
            'Submissions are limited per IP address (429) and per email address (extra ones are dropped).',
          params: ListParams,
          response: { 200: Html, 400: Html, 404: Html, 429: Html },
        },
      },
      async (request, reply) => {
        const t = stringsFor(request);
        const body = await formOf(request);
        const email = field(body, 'email') ?? '';
        const firstName = field(body, 'first_name');
        const result = await pages.submitForm(
          request.params.listId,
          {
            email,
            firstName,
            honeypot: field(body, 'website'),
            confirmedEmail: field(body, 'confirmed_email'),
            lang: t.lang,
          },
          originOf(request),
        );
        if (result.outcome === 'not_found') return sendHtml(reply, 404, notFoundPage(t));
        if (result.outcome === 'rate_limited') {
          return sendHtml(reply, 429, htmlPage(t.tooManyTitle, `<p>${t.tooManyBody}</p>`, t));
        }
        if (result.outcome === 'invalid_email') {
          const form = await pages.form(request.params.listId, t.lang);
          if (!form) return sendHtml(reply, 404, notFoundPage(t));
          const error = email.trim() === '' ? t.enterEmail : t.checkEmail;
          return sendHtml(reply, 400, subscribePage(form, t, { error, email, firstName }));
        }
        if (result.outcome === 'disposable_email' || result.outcome === 'possible_typo') {
          const form = await pages.form(request.params.listId, t.lang);
          if (!form) return sendHtml(reply, 404, notFoundPage(t));
          if (result.outcome === 'disposable_email')
            return sendHtml(
              reply,
              400,
              subscribePage(form, t, { error: t.disposableEmail, email, firstName }),
            );
          // The suggestion fills the field; sending the original again unchanged keeps it.
          const error = t.didYouMean(escapeHtml(result.suggestion), escapeHtml(result.email));
          return sendHtml(
            reply,
            400,
            subscribePage(form, t, { error, email: result.suggestion, firstName, confirmed: result.email }),
          );
        }
        return sendHtml(
          reply,
          200,
          result.doubleOptIn
            ? htmlPage(t.checkInboxTitle, `<p>${t.checkInboxBody}</p>`, t)
            : htmlPage(t.thanksTitle, `<p>${t.thanksBody}</p>`, t),
        );
      },
    );
  };
}

function originOf(request: FastifyRequest): PageOrigin {
  const userAgent = request.headers['user-agent'];
  return {
    ip: request.ip,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 500) : null,
    // Global Privacy Control: the browser's "do not sell or share", binding under the CCPA.
    gpc: request.headers['sec-gpc'] === '1',
  };
}

function notFoundPage(t: PageStrings): string {
  return htmlPage(t.notFoundTitle, `<p>${t.notFoundBody}</p>`, t);
}

/** "Weekly news and Offers", with private lists counted rather than named. */
function listPhrase(lists: NamedList[], t: PageStrings): string {
  const names = lists.filter((l) => l.public).map((l) => `<strong>${escapeHtml(l.name)}</strong>`);
  const others = lists.length - names.length;
  if (others > 0) names.push(others === 1 && names.length === 0 ? t.thisList : t.otherLists(others));
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} ${t.and} ${names.at(-1)}`;
}

function preferencesPage(view: PreferencesView, t: PageStrings, notice?: string): string {
  const items = view.lists
    .map(
      (list) =>
        `<label class="choice"><input type="checkbox" name="list" value="${escapeHtml(list.id)}"${
          list.subscribed ? ' checked' : ''
        }><span><strong>${escapeHtml(list.name)}</strong>${
          list.pending ? ` <span class="muted">${t.pending}</span>` : ''
        }${list.description ? `<br><span class="muted">${escapeHtml(list.description)}</span>` : ''}</span></label>`,
    )
    .join('\n');
  return htmlPage(
    t.preferencesTitle,
    `${notice ? `<p role="status"><strong>${notice}</strong></p>` : ''}
<p>${t.forAddress(`<strong>${escapeHtml(view.email)}</strong>`)}</p>
${view.unsubscribedFromAll ? `<p>${t.unsubscribedAllNote}</p>` : ''}
<form method="post">
<input type="hidden" name="nonce" value="${escapeHtml(view.nonce)}">
${
  view.lists.length > 0
    ? `<fieldset><legend>${t.listsLegend}</legend>
${items}
</fieldset>`
    : `<p>${t.noLists}</p>`
}
<fieldset><legend>${t.privacyLegend}</legend>
<input type="hidden" name="tracking" value="1">
<label class="choice"><input type="checkbox" name="no_tracking" value="1"${view.trackingAllowed ? '' : ' checked'}><span>${t.doNotTrack}</span></label>
<label class="choice"><input type="checkbox" name="do_not_sell" value="1"${view.doNotSell ? ' checked' : ''}><span>${t.doNotSell}</span></label>
</fieldset>
<div class="actions"><button type="submit" name="action" value="save">${t.saveButton}</button>
<button type="submit" name="action" value="unsubscribe_all" class="secondary">${t.unsubscribeAllButton}</button></div>
</form>`,
    t,
  );
}

function subscribePage(
  form: { listName: string; description: string | null; doubleOptIn: boolean; consentText: string },
  t: PageStrings,
  state: { error?: string; email?: string; firstName?: string | undefined; confirmed?: string } = {},
): string {
  return htmlPage(
    t.subscribeTitle(form.listName),
    `${form.description ? `<p>${escapeHtml(form.description)}</p>` : ''}
${state.error ? `<p role="alert" id="form-error"><strong>${state.error}</strong></p>` : ''}
<form method="post">
<label for="email">${t.emailLabel}</label>
<input type="email" id="email" name="email" required autocomplete="email" maxlength="320" value="${escapeHtml(
      state.email ?? '',
    )}"${state.error ? ' aria-invalid="true" aria-describedby="form-error"' : ''}>
<label for="first_name">${t.firstNameLabel} <span class="muted">${t.optional}</span></label>
<input type="text" id="first_name" name="first_name" autocomplete="given-name" maxlength="100" value="${escapeHtml(
      state.firstName ?? '',
    )}">
<div class="hp" aria-hidden="true"><label for="website">${t.honeypotLabel}</label>
<input type="text" id="website" name="website" tabindex="-1" autocomplete="off"></div>
${state.confirmed ? `<input type="hidden" name="confirmed_email" value="${escapeHtml(state.confirmed)}">` : ''}
<p class="muted">${escapeHtml(form.consentText)}</p>
<div class="actions"><button type="submit">${t.subscribeButton}</button></div>
</form>
${form.doubleOptIn ? `<p class="muted">${t.willConfirm}</p>` : ''}`,
    t,
  );
}
