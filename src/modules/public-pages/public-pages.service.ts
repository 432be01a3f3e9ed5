import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { isDomainError } from '../../lib/errors.js';
import { type SecretKeyring, sign } from '../../lib/secret-keys.js';
import { createToken, type TokenKind, verifyToken } from '../../lib/signed-tokens.js';
import type { CampaignService } from '../campaigns/index.js';
import type { ConsentLedger, ConsentOrigin } from '../consent/index.js';
import { applyHygienePolicy, type ContactService, checkEmail, inspectEmail } from '../contacts/index.js';
import type { List, ListService } from '../lists/index.js';
import type { WorkspaceService } from '../workspaces/index.js';
import { pageStrings } from './page-strings.js';
import { createWindowLimiter } from './submission-limiter.js';

/**
 * What the view-in-browser page needs from the sending side: the campaign's
 * pinned template version rendered for one contact with the same context as
 * the email. Implemented in src/main/view-renderer.ts.
 */
export interface ViewRenderer {
  render(
    workspaceId: string,
    campaignId: string,
    contactId: string,
  ): Promise<{ subject: string; html: string } | undefined>;
}

/** Who acted on a public page: their address and user agent, for the consent ledger. */
/** Who made a page request; `gpc`: it carried the Global Privacy Control header (Sec-GPC: 1). */
export type PageOrigin = Pick<ConsentOrigin, 'ip' | 'userAgent'> & { gpc?: boolean | undefined };

export interface PublicPagesDeps {
  keyring: SecretKeyring;
  clock: Clock;
  publicUrl: string;
  lists: Pick<ListService, 'list' | 'get' | 'findPublic' | 'addMembers' | 'changeOwnSubscriptions'>;
  contacts: Pick<ContactService, 'get' | 'create' | 'update' | 'mxRefusal' | 'findOne'>;
  campaigns: Pick<CampaignService, 'get'>;
  consent: Pick<ConsentLedger, 'append'>;
  workspaces: Pick<WorkspaceService, 'get'>;
  view: ViewRenderer;
  /** Hosted form submissions per IP address per hour (default 20). */
  formPerIpPerHour?: number;
  /** Hosted form submissions per email address per hour (default 3); more are silently ignored. */
  formPerEmailPerHour?: number;
}

interface TokenIds {
  workspaceId: string;
  contactId: string;
  campaignId: string | undefined;
  listId: string | undefined;
}

export interface NamedList {
  id: string;
  name: string;
  public: boolean;
}

export interface PreferenceList {
  id: string;
  name: string;
  description: string | null;
  subscribed: boolean;
  /** A double opt-in membership not confirmed yet. */
  pending: boolean;
}

export interface PreferencesView {
  email: string;
  lists: PreferenceList[];
  /** The contact opted out of all marketing email. */
  unsubscribedFromAll: boolean;
  /** Opens and clicks may be recorded (the contact's tracking consent). */
  trackingAllowed: boolean;
  /** CCPA do not sell or share. */
  doNotSell: boolean;
  /** The contact's locale, for the page's language. */
  locale: string | null;
  nonce: string;
}

export type UnsubscribeScope = 'lists' | 'all';

const HOUR = 3_600_000;
/** A preference form is accepted for 24-48 hours after it was shown. */
const NONCE_BUCKET_MS = 24 * HOUR;
const MAX_PUBLIC_LISTS = 200;

/** The text the hosted form shows next to its button, in the page's language; stored with its hash in the consent ledger. */
export function formConsentText(listName: string, workspaceName: string, lang = 'en'): string {
  return pageStrings(lang).consentText(listName, workspaceName);
}

/**
 * The public pages behind signed links: one-click unsubscribe (RFC 8058),
 * the preference center, view in browser, and the hosted subscribe form.
 * Tokens are the only credential; a token that does not verify, names another
 * kind, or names a contact that no longer exists is treated as not found.
 */
export function createPublicPagesService(deps: PublicPagesDeps) {
  const { keyring, clock, lists, contacts } = deps;
  const base = deps.publicUrl.replace(/\/+$/, '');
  const perIp = createWindowLimiter({ clock, max: deps.formPerIpPerHour ?? 20, windowMs: HOUR });
  const perEmail = createWindowLimiter({ clock, max: deps.formPerEmailPerHour ?? 3, windowMs: HOUR });

  function read(kind: TokenKind, token: string): TokenIds | undefined {
    const payload = verifyToken(keyring, kind, token, clock.now());
    if (!payload?.workspaceId || !payload.contactId) return undefined;
    return {
      workspaceId: payload.workspaceId,
      contactId: payload.contactId,
      campaignId: payload.campaignId,
      listId: payload.listId,
    };
  }

  /** The contact the token names, in the token's workspace; undefined when gone (erased). */
  async function contactOf(ids: TokenIds) {
    return notFoundAsUndefined(() => contacts.get(ids.workspaceId, ids.contactId));
  }

  /** The lists an unsubscribe link stands for: the campaign's lists, else the token's list. */
  async function unsubscribeLists(ids: TokenIds): Promise<NamedList[]> {
    let listIds: string[] = [];
    if (ids.campaignId) {
      const campaign = await notFoundAsUndefined(() =>
        deps.campaigns.get(ids.workspaceId, ids.campaignId as string),
      );
      if (campaign) listIds = campaign.lists;
    }
    if (listIds.length === 0 && ids.listId) listIds = [ids.listId];
    const found: NamedList[] = [];
    for (const listId of listIds) {
      const list = await notFoundAsUndefined(() => lists.get(ids.workspaceId, listId));
      if (list) found.push({ id: list.id, name: list.name, public: list.visibility === 'public' });
    }
    return found;
  }

  async function publicLists(workspaceId: string): Promise<List[]> {
    const page = await lists.list(workspaceId, { visibility: 'public' }, { limit: MAX_PUBLIC_LISTS });
    return page.data;
  }

  function preferencesUrlFor(ids: TokenIds): string {
    const token = createToken(keyring, 'preferences', {
      workspaceId: ids.workspaceId,
      contactId: ids.contactId,
      ...(ids.campaignId ? { campaignId: ids.campaignId } : {}),
    });
    return `${base}/p/${token}`;
  }

  function nonceFor(token: string, bucket: number): string {
    return sign(keyring, 'public-page-nonce:preferences', `${bucket}:${token}`)
      .subarray(0, 16)
      .toString('base64url');
  }

  function checkNonce(token: string, nonce: string | undefined): boolean {
    if (!nonce) return false;
    const given = Buffer.from(nonce);
    const bucket = Math.floor(clock.now().getTime() / NONCE_BUCKET_MS);
    return [bucket, bucket - 1].some((b) => {
      const expected = Buffer.from(nonceFor(token, b));
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  }

  /**
   * A Global Privacy Control signal on a page the contact used sets do_not_sell
   * (CCPA), recorded in the consent ledger with source gpc. Returns 1 when it changed.
   */
  async function honourGpc(workspaceId: string, contactId: string, page: PageOrigin): Promise<number> {
    if (!page.gpc) return 0;
    const contact = await contacts.findOne(workspaceId, { id: contactId });
    if (!contact || contact.do_not_sell) return 0;
    await contacts.update(
      workspaceId,
      contactId,
      { do_not_sell: true },
      { source: 'gpc', sourceId: null, ip: page.ip ?? null, userAgent: page.userAgent ?? null },
    );
    return 1;
  }

  function origin(ids: TokenIds, page: PageOrigin): ConsentOrigin {
    return {
      source: 'form',
      sourceId: ids.campaignId ?? null,
      ip: page.ip ?? null,
      userAgent: page.userAgent ?? null,
    };
  }

  /**
   * Opts the contact out of all marketing email: the contact's status becomes
   * unsubscribed (campaigns send only to active contacts; transactional mail is
   * not affected) and every membership is unsubscribed. Two transactions, each
   * idempotent: a repeat completes whatever a failure left undone.
   */
  async function unsubscribeAll(
    ids: TokenIds,
    contact: Awaited<ReturnType<ContactService['get']>>,
    detail: Record<string, unknown>,
    page: PageOrigin,
  ): Promise<number> {
    let changes = 0;
    if (contact.status === 'active') {
      await contacts.update(ids.workspaceId, ids.contactId, { status: 'unsubscribed' }, origin(ids, page));
      await deps.consent.append(ids.workspaceId, origin(ids, page), [
        { contactId: ids.contactId, action: 'unsubscribe', detail: { ...detail, scope: 'all' } },
      ]);
      changes += 1;
    }
    const result = await lists.changeOwnSubscriptions(
      ids.workspaceId,
      ids.contactId,
      { unsubscribe: contact.lists.filter((m) => m.status !== 'unsubscribed').map((m) => m.list_id) },
      origin(ids, page),
      { ...detail, scope: 'all' },
    );
    return changes + result.unsubscribed.length;
  }

  /** The one-click unsubscribe, once the token (or the List-Unsubscribe mailto address) named who and why. */
  async function unsubscribeIds(
    ids: TokenIds,
    request: { scope: UnsubscribeScope; method: 'one-click' | 'page' | 'mailto' },
    page: PageOrigin,
  ): Promise<
    | { outcome: 'invalid' }
    | {
        outcome: 'unsubscribed' | 'already_unsubscribed';
        scope: UnsubscribeScope;
        lists: NamedList[];
        locale: string | null;
      }
  > {
    const contact = await contactOf(ids);
    if (!contact) return { outcome: 'invalid' };
    const named = await unsubscribeLists(ids);
    const scope: UnsubscribeScope = named.length === 0 ? 'all' : request.scope;
    const detail = { method: request.method, campaign_id: ids.campaignId ?? null };
    let changed: number;
    if (scope === 'all') {
      changed = await unsubscribeAll(ids, contact, detail, page);
    } else {
      const result = await lists.changeOwnSubscriptions(
        ids.workspaceId,
        ids.contactId,
        { unsubscribe: named.map((l) => l.id) },
        origin(ids, page),
        detail,
      );
      changed = result.unsubscribed.length;
    }
    return {
      outcome: changed > 0 ? 'unsubscribed' : 'already_unsubscribed',
      scope,
      lists: named,
      locale: contact.locale,
    };
  }

  /** Any valid preferences token gives its contact's preference center; undefined otherwise. */
  async function preferencesOf(token: string): Promise<PreferencesView | undefined> {
    const ids = read('preferences', token);
    if (!ids) return undefined;
    const contact = await contactOf(ids);
    if (!contact) return undefined;
    const memberships = new Map(contact.lists.map((m) => [m.list_id, m.status]));
    const shown = await publicLists(ids.workspaceId);
    return {
      email: contact.email,
      unsubscribedFromAll: contact.status === 'unsubscribed',
      trackingAllowed: contact.tracking_consent !== false,
      doNotSell: contact.do_not_sell === true,
      locale: contact.locale,
      nonce: nonceFor(token, Math.floor(clock.now().getTime() / NONCE_BUCKET_MS)),
      lists: shown.map((list) => {
        const status = memberships.get(list.id);
        const subscribed = status === 'confirmed' || (status === 'unconfirmed' && list.opt_in === 'single');
        return {
          id: list.id,
          name: list.name,
          description: list.description,
          subscribed,
          pending: status === 'unconfirmed' && list.opt_in === 'double',
        };
      }),
    };
  }

  return {
    /** For the GET page: the lists the link unsubscribes from; undefined for an invalid link. */
    async describeUnsubscribe(token: string): Promise<
      | {
          lists: NamedList[];
          /** No longer subscribed to any of `lists` (or `lists` is empty). */
          listsDone: boolean;
          /** Opted out of all marketing email already. */
          allDone: boolean;
          preferencesUrl: string;
          locale: string | null;
        }
      | undefined
    > {
      const ids = read('unsubscribe', token);
      if (!ids) return undefined;
      const contact = await contactOf(ids);
      if (!contact) return undefined;
      const named = await unsubscribeLists(ids);
      const active = new Set(contact.lists.filter((m) => m.status !== 'unsubscribed').map((m) => m.list_id));
      return {
        lists: named,
        listsDone: !named.some((l) => active.has(l.id)),
        allDone: contact.status === 'unsubscribed',
        preferencesUrl: preferencesUrlFor(ids),
        locale: contact.locale,
      };
    },

    /**
     * Unsubscribes at once (RFC 8058 one-click, or the page's button). Scope
     * 'lists' leaves the lists the email was sent to; 'all' opts out of all
     * marketing email. A link naming no list that still exists acts as 'all':
     * an unsubscribe request must always take effect. Repeats change nothing.
     */
    async unsubscribe(
      token: string,
      request: { scope: UnsubscribeScope; method: 'one-click' | 'page' },
      page: PageOrigin,
    ): Promise<
      | { outcome: 'invalid' }
      | {
          outcome: 'unsubscribed' | 'already_unsubscribed';
          scope: UnsubscribeScope;
          lists: NamedList[];
          locale: string | null;
        }
    > {
      const ids = read('unsubscribe', token);
      if (!ids) return { outcome: 'invalid' };
      const result = await unsubscribeIds(ids, request, page);
      if (result.outcome !== 'invalid') await honourGpc(ids.workspaceId, ids.contactId, page);
      return result;
    },

    /**
     * Mail to a message's List-Unsubscribe `mailto:` address (read by the
     * deliverability intake, which found the message it was sent with): the
     * one-click POST of that message's link, recorded with method `mailto`.
     * A campaign email's recipient leaves the campaign's lists; an automation
     * email (no campaign, no list) opts out of all marketing email, as its
     * link does. No IP or user agent: a mail server delivered the request.
     */
    async unsubscribeRecipient(input: {
      workspaceId: string;
      contactId: string;
      campaignId: string | null;
    }): Promise<{
      outcome: 'invalid' | 'unsubscribed' | 'already_unsubscribed';
      scope: UnsubscribeScope | null;
    }> {
      const result = await unsubscribeIds(
        {
          workspaceId: input.workspaceId,
          contactId: input.contactId,
          campaignId: input.campaignId ?? undefined,
          listId: undefined,
        },
        { scope: 'lists', method: 'mailto' },
        {},
      );
      return { outcome: result.outcome, scope: result.outcome === 'invalid' ? null : result.scope };
    },

    preferences: preferencesOf,

    /**
     * Saves the preference form: `subscribed` names the public lists the person
     * ticked; the other public lists are left. `all` opts out of all marketing
     * email instead. The form's nonce must be one this service issued for this
     * token in the last day or two, so a POST not made from the page (a link
     * scanner, a stale tab) changes nothing.
     */
    async savePreferences(
      token: string,
      form: {
        nonce: string | undefined;
        subscribed: string[];
        action: 'save' | 'unsubscribe_all';
        /** The "do not track" box: false withdraws consent to open and click tracking. */
        allowTracking?: boolean | undefined;
        /** The CCPA "do not sell or share" box. */
        doNotSell?: boolean | undefined;
      },
      page: PageOrigin,
    ): Promise<{ outcome: 'invalid' | 'expired' | 'saved' | 'unsubscribed_all'; changes: number }> {
      const ids = read('preferences', token);
      if (!ids) return { outcome: 'invalid', changes: 0 };
      const contact = await contactOf(ids);
      if (!contact) return { outcome: 'invalid', changes: 0 };
      if (!checkNonce(token, form.nonce)) return { outcome: 'expired', changes: 0 };
      const detail = { method: 'preferences', campaign_id: ids.campaignId ?? null };
      // GPC first: a box left unticked on the page does not outweigh the browser's signal.
      let gpcChanges = await honourGpc(ids.workspaceId, ids.contactId, page);
      if (!page.gpc && form.doNotSell !== undefined && form.doNotSell !== (contact.do_not_sell === true)) {
        await contacts.update(
          ids.workspaceId,
          ids.contactId,
          { do_not_sell: form.doNotSell },
          origin(ids, page),
        );
        gpcChanges += 1;
      }
      if (form.action === 'unsubscribe_all') {
        const changes = await unsubscribeAll(ids, contact, detail, page);
        return { outcome: 'unsubscribed_all', changes: changes + gpcChanges };
      }
      const view = await preferencesOf(token);
      if (!view) return { outcome: 'invalid', changes: 0 };
      const wanted = new Set(form.subscribed);
      const subscribe = view.lists.filter((l) => wanted.has(l.id) && !l.subscribed).map((l) => l.id);
      const unsubscribe = view.lists
        .filter((l) => !wanted.has(l.id) && (l.subscribed || l.pending))
        .map((l) => l.id);
      let changes = gpcChanges;
      if (form.allowTracking !== undefined && form.allowTracking !== view.trackingAllowed) {
        await contacts.update(
          ids.workspaceId,
          ids.contactId,
          { tracking_consent: form.allowTracking },
          origin(ids, page),
        );
        // A consent change of its own purpose; not an unsubscribe, so reports do not count it as one.
        await deps.consent.append(ids.workspaceId, origin(ids, page), [
          {
            contactId: ids.contactId,
            purpose: 'tracking',
            action: 'status_change',
            detail: { ...detail, from: view.trackingAllowed, to: form.allowTracking },
          },
        ]);
        changes += 1;
      }
      // Choosing a list again after opting out of everything is a fresh, explicit choice.
      if (subscribe.length > 0 && contact.status === 'unsubscribed') {
        await contacts.update(ids.workspaceId, ids.contactId, { status: 'active' }, origin(ids, page));
        changes += 1;
      }
      const result = await lists.changeOwnSubscriptions(
        ids.workspaceId,
        ids.contactId,
        { subscribe, unsubscribe },
        origin(ids, page),
        detail,
      );
      changes += result.subscribed.length + result.unsubscribed.length;
      return { outcome: 'saved', changes };
    },

    /** The campaign as this contact received it, or undefined (invalid link, erased contact, deleted campaign). */
    async view(token: string): Promise<{ subject: string; html: string } | undefined> {
      const ids = read('view', token);
      if (!ids?.campaignId) return undefined;
      if (!(await contactOf(ids))) return undefined;
      return deps.view.render(ids.workspaceId, ids.campaignId, ids.contactId);
    },

    /** The hosted form of a public list; undefined for private, unknown or malformed ids. */
    async form(
      listId: string,
      lang = 'en',
    ): Promise<
      | {
          listName: string;
          description: string | null;
          doubleOptIn: boolean;
          workspaceName: string;
          consentText: string;
        }
      | undefined
    > {
      const list = await lists.findPublic(listId);
      if (!list) return undefined;
      const workspace = await deps.workspaces.get(list.workspace_id);
      return {
        listName: list.name,
        description: list.description,
        doubleOptIn: list.opt_in === 'double',
        workspaceName: workspace.name,
        consentText: formConsentText(list.name, workspace.name, lang),
      };
    },

    /**
     * A hosted form submission. The outcome never says whether the address was
     * known: new, subscribed and unsubscribed addresses get the same answer.
     * Honeypot hits and addresses over their hourly limit are accepted and
     * dropped. Double opt-in lists queue the confirmation email (the lists
     * service's hook); single opt-in lists subscribe at once. An address that
     * unsubscribed from a single opt-in list stays unsubscribed (anyone can type
     * any address into a form); on a double opt-in list it is asked to confirm
     * again.
     */
    async submitForm(
      listId: string,
      input: {
        email: string;
        firstName: string | undefined;
        honeypot: string | undefined;
        /** The address the form last questioned as a likely typo: sent again unchanged, it is what the person meant. */
        confirmedEmail?: string | undefined;
        /** The language the form was shown in: the consent text recorded is the one the person read. */
        lang?: string | undefined;
      },
      page: PageOrigin,
    ): Promise<
      | { outcome: 'not_found' }
      | { outcome: 'rate_limited' }
      | { outcome: 'invalid_email'; reason: string }
      | { outcome: 'disposable_email'; reason: string }
      | { outcome: 'possible_typo'; email: string; suggestion: string }
      | { outcome: 'accepted'; doubleOptIn: boolean }
    > {
      const list = await lists.findPublic(listId);
      if (!list) return { outcome: 'not_found' };
      if (!perIp.take(`ip:${page.ip ?? ''}`)) return { outcome: 'rate_limited' };
      const checked = checkEmail(input.email.trim());
      if ('error' in checked) return { outcome: 'invalid_email', reason: checked.error.message };
      const doubleOptIn = list.opt_in === 'double';
      if (input.honeypot) return { outcome: 'accepted', doubleOptIn };
      const workspace = await deps.workspaces.get(list.workspace_id);
      // The workspace's policy, except that a likely typo is asked about once instead of stored with a
      // warning: the person is there to correct it, and a mistyped address never gets the confirmation.
      const hygiene = applyHygienePolicy(inspectEmail(checked.email), workspace.hygiene);
      if (hygiene.error) return { outcome: 'disposable_email', reason: hygiene.error.message };
      const noMail = await contacts.mxRefusal(list.workspace_id, checked.email);
      if (noMail) return { outcome: 'invalid_email', reason: noMail.message };
      const typo = hygiene.warnings.find((w) => w.code === 'possible_typo');
      if (typo?.suggestion && input.confirmedEmail?.trim() !== checked.email)
        return { outcome: 'possible_typo', email: checked.email, suggestion: typo.suggestion };
      const emailKey = createHash('sha256').update(checked.email.toLowerCase()).digest('base64url');
      if (!perEmail.take(`email:${list.workspace_id}:${emailKey}`))
        return { outcome: 'accepted', doubleOptIn };

      const consentText = formConsentText(list.name, workspace.name, input.lang);
      const formOrigin: ConsentOrigin = {
        source: 'form',
        sourceId: `form:${list.id}`,
        ip: page.ip ?? null,
        userAgent: page.userAgent ?? null,
      };
      const firstName = input.firstName?.trim().slice(0, 100);
      if (firstName) {
        // Only a new contact takes the name: a form must not overwrite what is known about someone.
        try {
          await contacts.create(
            list.workspace_id,
            { email: checked.email, attributes: { first_name: firstName } },
            formOrigin,
          );
        } catch (error) {
          if (!isDomainError(error)) throw error;
          // CONTACT_EXISTS, or a workspace attribute schema that types first_name otherwise: go on without it.
        }
      }
      await lists.addMembers(
        list.workspace_id,
        list.id,
        { emails: [checked.email], ...(doubleOptIn ? { status: 'unconfirmed' as const } : {}) },
        formOrigin,
        {
          detail: {
            method: 'hosted-form',
            language: pageStrings(input.lang).lang,
            consent_text: consentText,
            consent_text_sha256: createHash('sha256').update(consentText).digest('hex'),
          },
        },
      );
      if (page.gpc) {
        const subscriber = await contacts.findOne(list.workspace_id, { email: checked.email });
        if (subscriber) await honourGpc(list.workspace_id, subscriber.id, page);
      }
      return { outcome: 'accepted', doubleOptIn };
    },
  };
}

export type PublicPagesService = ReturnType<typeof createPublicPagesService>;

async function notFoundAsUndefined<T>(load: () => Promise<T>): Promise<T | undefined> {
  try {
    return await load();
  } catch (error) {
    if (isDomainError(error) && error.status === 404) return undefined;
    throw error;
  }
}
