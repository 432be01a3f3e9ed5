import type { ContactStatus, Db, MembershipStatus } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import { type AttributeService, checkAttributes } from '../attributes/index.js';
import type { ConsentLedger, ConsentOrigin } from '../consent/index.js';
import { recordWebhookEvent } from '../webhooks/index.js';
import { checkEmail, checkLocale, checkTags, checkTimezone, requireEmail } from './contact-fields.js';
import * as repo from './contacts.repository.js';
import {
  applyHygienePolicy,
  type HygienePolicy,
  type HygieneWarning,
  inspectEmail,
  noMailError,
} from './email-hygiene.js';
import type { MxCheck } from './mx-check.js';

export interface Contact {
  id: string;
  email: string;
  external_id: string | null;
  status: ContactStatus;
  attributes: Record<string, unknown>;
  tags: string[];
  timezone: string | null;
  locale: string | null;
  tracking_consent: boolean;
  /** CCPA do not sell or share: left out of exports and integrations for third parties. */
  do_not_sell: boolean;
  created_at: Date;
  updated_at: Date;
}

/** A contact as a write returned it, with the hygiene warnings of its email (only when there are some). */
export interface ContactWritten extends Contact {
  warnings?: HygieneWarning[];
}

export interface ContactWithLists extends Contact {
  lists: repo.MembershipSummary[];
}

export interface ContactInput {
  email: string;
  external_id?: string | null | undefined;
  status?: ContactStatus | undefined;
  attributes?: Record<string, unknown> | undefined;
  tags?: string[] | undefined;
  timezone?: string | null | undefined;
  locale?: string | null | undefined;
  tracking_consent?: boolean | undefined;
  do_not_sell?: boolean | undefined;
}

export interface ContactPatch {
  email?: string | undefined;
  external_id?: string | null | undefined;
  status?: ContactStatus | undefined;
  /** Merged into the stored attributes; a null value removes that key. */
  attributes?: Record<string, unknown> | undefined;
  /** Replaces all tags. */
  tags?: string[] | undefined;
  add_tags?: string[] | undefined;
  remove_tags?: string[] | undefined;
  timezone?: string | null | undefined;
  locale?: string | null | undefined;
  tracking_consent?: boolean | undefined;
  do_not_sell?: boolean | undefined;
}

export type ContactFilter = repo.ContactFilter;

export interface ContactServiceDeps {
  db: Db;
  clock: Clock;
  attributes: AttributeService;
  consent: ConsentLedger;
  /** DNS lookup for workspaces with hygiene mx_check on; without it the check is skipped. */
  mx?: MxCheck | undefined;
  /** Addresses erased at the person's request (the privacy module): never created again. */
  erased?: ErasedAddresses | undefined;
}

/** The port the privacy module fills: which of these addresses (as email_key, lower case) were erased. */
export interface ErasedAddresses {
  erasedAmong(workspaceId: string, emailKeys: string[], trx: Db): Promise<Set<string>>;
}

/** The refusal of an erased address; says why without repeating the address. */
export function erasedError(): DomainError {
  return new DomainError(
    'CONTACT_ERASED',
    "this address was erased at the person's request (right to erasure) and cannot be added again; " +
      'only the person asking again (e.g. a new subscription you can prove) justifies removing its erased entry from the suppression list',
    [{ path: '/email', message: 'erased' }],
  );
}

export function createContactService(deps: ContactServiceDeps) {
  const { db, clock, attributes, consent } = deps;

  /**
   * Refuses an address whose domain takes no mail, when the workspace asks for
   * the MX check. Runs before the write's transaction opens, so no database
   * session waits on DNS (PGlite has only one).
   */
  async function checkMx(workspaceId: string, input: string | undefined, trx: Db = db): Promise<void> {
    if (!deps.mx || input === undefined) return;
    const checked = checkEmail(input);
    if ('error' in checked) return;
    if (!(await repo.hygienePolicyOf(trx, workspaceId)).mx_check) return;
    // An address already stored is not new: updates and upserts of that contact go on.
    if (await repo.findContactByEmail(trx, workspaceId, checked.email)) return;
    const domain = checked.email.slice(checked.email.lastIndexOf('@') + 1);
    if ((await deps.mx(domain)) !== 'no_mail') return;
    const error = noMailError(domain);
    throw new DomainError('INVALID_EMAIL', error.message, [error]);
  }

  /** Validates everything in one pass, so the caller hears of every problem at once. */
  /**
   * `currentEmailKey`: the stored contact's address, when changing one. Hygiene applies to new
   * addresses only, so a contact stored earlier (before the policy, or under a laxer one) can still
   * be updated and identified by the address it has.
   */
  async function checkFields(workspaceId: string, input: ContactPatch, trx: Db, currentEmailKey?: string) {
    const errors: ErrorDetail[] = [];
    let email: string | undefined;
    let warnings: HygieneWarning[] = [];
    if (input.email !== undefined) {
      const checked = checkEmail(input.email);
      if ('error' in checked) errors.push(checked.error);
      else if (checked.email.toLowerCase() === currentEmailKey) email = checked.email;
      else {
        email = checked.email;
        const hygiene = applyHygienePolicy(inspectEmail(email), await repo.hygienePolicyOf(trx, workspaceId));
        if (hygiene.error) errors.push(hygiene.error);
        warnings = hygiene.warnings;
      }
    }
    let timezone = input.timezone;
    if (typeof input.timezone === 'string') {
      timezone = checkTimezone(input.timezone);
      if (!timezone)
        errors.push({
          path: '/timezone',
          message: `"${input.timezone}" is not an IANA time zone such as Europe/Berlin`,
        });
    }
    let locale = input.locale;
    if (typeof input.locale === 'string') {
      locale = checkLocale(input.locale);
      if (!locale)
        errors.push({ path: '/locale', message: `"${input.locale}" is not a BCP 47 locale such as en-US` });
    }
    const tags = input.tags ? checkTags(input.tags) : undefined;
    const addTags = input.add_tags ? checkTags(input.add_tags, '/add_tags') : undefined;
    const removeTags = input.remove_tags ? checkTags(input.remove_tags, '/remove_tags') : undefined;
    for (const t of [tags, addTags, removeTags]) if (t) errors.push(...t.errors);
    const attrs = input.attributes
      ? checkAttributes(input.attributes, await attributes.definitions(workspaceId, trx))
      : undefined;
    if (attrs) errors.push(...attrs.errors);
    if (errors.length > 0) {
      const code = errors.some((e) => e.path === '/email') ? 'INVALID_EMAIL' : 'VALIDATION_FAILED';
      throw new DomainError(code, errors.map((e) => e.message).join('; '), errors);
    }
    return {
      email,
      warnings,
      timezone,
      locale,
      tags: tags?.tags,
      addTags: addTags?.tags,
      removeTags: removeTags?.tags,
      attrs,
    };
  }

  async function insert(
    workspaceId: string,
    input: ContactInput,
    origin: ConsentOrigin,
    trx: Db,
  ): Promise<ContactWritten> {
    const fields = await checkFields(workspaceId, input, trx);
    const emailKey = (fields.email as string).toLowerCase();
    if (deps.erased && (await deps.erased.erasedAmong(workspaceId, [emailKey], trx)).has(emailKey))
      throw erasedError();
    const now = clock.now();
    const row = await repo.insertContact(trx, {
      id: uuidv7(now.getTime()),
      workspace_id: workspaceId,
      email: fields.email as string,
      external_id: input.external_id ?? null,
      status: input.status ?? 'active',
      attributes: JSON.stringify(fields.attrs?.set ?? {}),
      tags: fields.tags ?? [],
      timezone: fields.timezone ?? null,
      locale: fields.locale ?? null,
      tracking_consent: input.tracking_consent ?? true,
      do_not_sell: input.do_not_sell ?? false,
      created_at: now,
      updated_at: now,
    });
    if (!row) throw await conflictError(trx, workspaceId, fields.email as string, input.external_id ?? null);
    await recordWebhookEvent(trx, {
      workspaceId,
      type: 'contact.created',
      contactId: row.id,
      data: { status: row.status },
      at: now,
    });
    if (row.status !== 'active') {
      await consent.append(
        workspaceId,
        origin,
        [{ contactId: row.id, action: 'status_change', detail: { from: null, to: row.status } }],
        trx,
      );
    }
    if (row.do_not_sell)
      await consent.append(
        workspaceId,
        origin,
        [{ contactId: row.id, action: 'do_not_sell', detail: { do_not_sell: true } }],
        trx,
      );
    return withWarnings(toContact(row), fields.warnings);
  }

  /** contact.updated naming the changed fields, and contact.unsubscribed when the status became unsubscribed. */
  async function recordContactChange(
    trx: Db,
    workspaceId: string,
    before: repo.ContactRow,
    after: repo.ContactRow,
  ): Promise<void> {
    const fields: string[] =
      // do_not_sell too: an endpoint that shares them (the business's own system) must learn of an opt-out.
      (
        ['email', 'external_id', 'status', 'timezone', 'locale', 'tracking_consent', 'do_not_sell'] as const
      ).filter((field) => before[field] !== after[field]);
    if (JSON.stringify(before.attributes) !== JSON.stringify(after.attributes)) fields.push('attributes');
    if (before.tags.join('\n') !== after.tags.join('\n')) fields.push('tags');
    const at = clock.now();
    if (fields.length > 0) {
      await recordWebhookEvent(trx, {
        workspaceId,
        type: 'contact.updated',
        contactId: after.id,
        data: { changed: fields, status: after.status },
        at,
      });
    }
    if (after.status === 'unsubscribed' && before.status !== 'unsubscribed') {
      await recordWebhookEvent(trx, {
        workspaceId,
        type: 'contact.unsubscribed',
        contactId: after.id,
        data: { scope: 'all', from: before.status },
        at,
      });
    }
  }

  async function conflictError(trx: Db, workspaceId: string, email: string, externalId: string | null) {
    const byEmail = await repo.findContactByEmail(trx, workspaceId, email);
    if (byEmail) {
      return new DomainError(
        'CONTACT_EXISTS',
        `a contact with email ${email} already exists (id ${byEmail.id}); use PUT /v1/contacts to upsert`,
        [{ path: '/email', message: 'already used by another contact', contact_id: byEmail.id }],
      );
    }
    return new DomainError('CONTACT_EXISTS', `a contact with external_id "${externalId}" already exists`, [
      { path: '/external_id', message: 'already used by another contact' },
    ]);
  }

  async function applyPatch(
    workspaceId: string,
    current: repo.ContactRow,
    patch: ContactPatch,
    origin: ConsentOrigin,
    trx: Db,
  ): Promise<ContactWritten> {
    const fields = await checkFields(workspaceId, patch, trx, current.email_key);
    if (fields.email && fields.email.toLowerCase() !== current.email_key) {
      const other = await repo.findContactByEmail(trx, workspaceId, fields.email);
      if (other && other.id !== current.id) throw await conflictError(trx, workspaceId, fields.email, null);
      const key = fields.email.toLowerCase();
      if (deps.erased && (await deps.erased.erasedAmong(workspaceId, [key], trx)).has(key))
        throw erasedError();
    }
    if (patch.external_id && patch.external_id !== current.external_id) {
      const other = await repo.findContactByExternalId(trx, workspaceId, patch.external_id);
      if (other && other.id !== current.id)
        throw await conflictError(trx, workspaceId, '', patch.external_id);
    }
    const changes: repo.ContactChanges = {};
    if (fields.email !== undefined) changes.email = fields.email;
    if (patch.external_id !== undefined) changes.external_id = patch.external_id;
    if (patch.status !== undefined) changes.status = patch.status;
    if (fields.timezone !== undefined) changes.timezone = fields.timezone;
    if (fields.locale !== undefined) changes.locale = fields.locale;
    if (patch.tracking_consent !== undefined) changes.tracking_consent = patch.tracking_consent;
    if (patch.do_not_sell !== undefined) changes.do_not_sell = patch.do_not_sell;
    if (fields.tags !== undefined) changes.tags = fields.tags;
    if (fields.addTags) changes.addTags = fields.addTags;
    if (fields.removeTags) changes.removeTags = fields.removeTags;
    if (fields.attrs) {
      changes.setAttributes = fields.attrs.set;
      changes.removeAttributes = fields.attrs.remove;
    }
    const updated = await repo.updateContact(trx, workspaceId, current.id, changes, clock.now());
    if (!updated) throw notFound(current.id);
    await recordContactChange(trx, workspaceId, current, updated);
    if (patch.status !== undefined && patch.status !== current.status) {
      await consent.append(
        workspaceId,
        origin,
        [
          {
            contactId: current.id,
            action: 'status_change',
            detail: { from: current.status, to: patch.status },
          },
        ],
        trx,
      );
    }
    if (patch.do_not_sell !== undefined && patch.do_not_sell !== current.do_not_sell) {
      // The choice and where it came from (API, preference center, a GPC signal) are consent evidence.
      await consent.append(
        workspaceId,
        origin,
        [{ contactId: current.id, action: 'do_not_sell', detail: { do_not_sell: patch.do_not_sell } }],
        trx,
      );
    }
    return withWarnings(toContact(updated), fields.warnings);
  }

  return {
    async create(workspaceId: string, input: ContactInput, origin: ConsentOrigin): Promise<ContactWritten> {
      await checkMx(workspaceId, input.email);
      const sealed = await sealInput(workspaceId, input);
      return reveal(
        workspaceId,
        await db.transaction().execute((trx) => insert(workspaceId, sealed, origin, trx)),
      );
    },

    /**
     * Creates or updates the contact matching `external_id` (when given and
     * known) or else `email`. Attributes merge into the stored ones.
     */
    async upsert(
      workspaceId: string,
      input: ContactInput,
      origin: ConsentOrigin,
    ): Promise<{ contact: ContactWritten; created: boolean }> {
      const email = requireEmail(input.email);
      await checkMx(workspaceId, email);
      const sealed = await sealInput(workspaceId, input);
      for (let attempt = 1; ; attempt++) {
        try {
          const written = await db.transaction().execute(async (trx) => {
            const byExternal = input.external_id
              ? await repo.findContactByExternalId(trx, workspaceId, input.external_id, true)
              : undefined;
            const match = byExternal ?? (await repo.findContactByEmail(trx, workspaceId, email, true));
            if (!match) return { contact: await insert(workspaceId, sealed, origin, trx), created: true };
            return { contact: await applyPatch(workspaceId, match, sealed, origin, trx), created: false };
          });
          return { ...written, contact: await reveal(workspaceId, written.contact) };
        } catch (error) {
          // A concurrent upsert created the same contact between our lookup and our insert;
          // the second attempt finds it and updates it, as if the two had arrived in turn.
          if (attempt === 1 && error instanceof DomainError && error.code === 'CONTACT_EXISTS') continue;
          throw error;
        }
      }
    },

    async get(workspaceId: string, id: string): Promise<ContactWithLists> {
      const row = await repo.findContact(db, workspaceId, id);
      if (!row) throw notFound(id);
      return {
        ...(await reveal(workspaceId, toContact(row))),
        lists: await repo.membershipsOf(db, workspaceId, id),
      };
    },

    /**
     * Changes a contact's status inside the caller's transaction, only from one
     * of `from` (a bounce never turns a blocked contact into anything else), with
     * its consent record carrying `detail` as evidence. Undefined when the
     * contact is gone or its status was not one of `from`.
     */
    async changeStatus(
      workspaceId: string,
      id: string,
      change: { to: ContactStatus; from: readonly ContactStatus[]; detail?: Record<string, unknown> },
      origin: ConsentOrigin,
      trx: Db,
    ): Promise<{ from: ContactStatus; to: ContactStatus } | undefined> {
      const current = await repo.lockContact(trx, workspaceId, id);
      if (!current || current.status === change.to || !change.from.includes(current.status)) return undefined;
      const updated = await repo.updateContact(trx, workspaceId, id, { status: change.to }, clock.now());
      if (updated) await recordContactChange(trx, workspaceId, current, updated);
      await consent.append(
        workspaceId,
        origin,
        [
          {
            contactId: id,
            action: 'status_change',
            detail: { ...change.detail, from: current.status, to: change.to },
          },
        ],
        trx,
      );
      return { from: current.status, to: change.to };
    },

    async update(
      workspaceId: string,
      id: string,
      patch: ContactPatch,
      origin: ConsentOrigin,
    ): Promise<ContactWritten> {
      await checkMx(workspaceId, patch.email);
      const sealed = await sealInput(workspaceId, patch);
      const written = await db.transaction().execute(async (trx) => {
        const current = await repo.lockContact(trx, workspaceId, id);
        if (!current) throw notFound(id);
        return applyPatch(workspaceId, current, sealed, origin, trx);
      });
      return reveal(workspaceId, written);
    },

    async remove(workspaceId: string, id: string): Promise<void> {
      if (!(await repo.deleteContact(db, workspaceId, id))) throw notFound(id);
    },

    async list(
      workspaceId: string,
      filter: ContactFilter,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<Contact>> {
      const rows = await repo.listContacts(db, workspaceId, await typedFilter(workspaceId, filter), {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      return toPage(await attributes.revealAll(workspaceId, rows.map(toContact)), page.limit);
    },

    /** Streams every matching contact in id order, in pages, for export. */
    async *iterate(workspaceId: string, filter: ContactFilter, pageSize = 2000): AsyncGenerator<Contact[]> {
      const typed = await typedFilter(workspaceId, filter);
      let after: string | undefined;
      for (;;) {
        const rows = await repo.listContacts(db, workspaceId, typed, { after, limit: pageSize - 1 });
        if (rows.length === 0) return;
        yield attributes.revealAll(workspaceId, rows.map(toContact));
        if (rows.length < pageSize) return;
        after = rows[rows.length - 1]?.id;
      }
    },

    /** Attribute keys present among the contacts matching `filter`, sorted by code point. */
    async attributeKeys(workspaceId: string, filter: ContactFilter): Promise<string[]> {
      const keys = await repo.attributeKeys(db, workspaceId, await typedFilter(workspaceId, filter));
      return keys.sort();
    },

    /**
     * Finds contacts by email and creates the missing ones (status active), in
     * the caller's transaction. Invalid addresses, and new ones the workspace's
     * hygiene policy refuses (disposable domains by default), are returned with their reason.
     */
    async findOrCreateByEmails(
      workspaceId: string,
      emails: string[],
      trx: Db = db,
    ): Promise<{ contacts: Contact[]; invalid: { email: string; reason: string }[] }> {
      const invalid: { email: string; reason: string }[] = [];
      const normalized = new Map<string, string>();
      for (const raw of emails) {
        const checked = checkEmail(raw);
        if ('error' in checked) invalid.push({ email: raw, reason: checked.error.message });
        else normalized.set(checked.email.toLowerCase(), checked.email);
      }
      const existing = await repo.findByEmails(trx, workspaceId, [...normalized.values()]);
      const found = new Map(existing.map((row) => [row.email_key, toContact(row)]));
      const policy = found.size < normalized.size ? await repo.hygienePolicyOf(trx, workspaceId) : undefined;
      const missing = [...normalized.keys()].filter((key) => !found.has(key));
      const erased =
        deps.erased && missing.length > 0
          ? await deps.erased.erasedAmong(workspaceId, missing, trx)
          : new Set<string>();
      for (const [key, email] of normalized) {
        if (found.has(key)) continue;
        if (erased.has(key)) {
          invalid.push({ email, reason: erasedError().message });
          continue;
        }
        // Only new contacts meet the policy: one stored earlier (under another policy) stays usable.
        const refused = policy && applyHygienePolicy(inspectEmail(email), policy).error;
        if (refused) {
          invalid.push({ email, reason: refused.message });
          continue;
        }
        const now = clock.now();
        const row = await repo.insertContact(trx, {
          id: uuidv7(now.getTime()),
          workspace_id: workspaceId,
          email,
          attributes: '{}',
          created_at: now,
          updated_at: now,
        });
        if (row) {
          await recordWebhookEvent(trx, {
            workspaceId,
            type: 'contact.created',
            contactId: row.id,
            data: { status: row.status },
            at: now,
          });
        }
        // A concurrent insert of the same address won the race: use that contact.
        const contact = row ?? (await repo.findContactByEmail(trx, workspaceId, email));
        if (contact) found.set(key, toContact(contact));
      }
      return { contacts: [...found.values()], invalid };
    },

    /** One contact by id, email (any case) or external_id; undefined when the workspace has none. */
    async findOne(
      workspaceId: string,
      ref: { id?: string | undefined; email?: string | undefined; external_id?: string | undefined },
    ): Promise<Contact | undefined> {
      let row: repo.ContactRow | undefined;
      if (ref.id !== undefined) row = await repo.findContact(db, workspaceId, ref.id);
      else if (ref.email !== undefined) {
        const checked = checkEmail(ref.email);
        row = 'error' in checked ? undefined : await repo.findContactByEmail(db, workspaceId, checked.email);
      } else if (ref.external_id !== undefined)
        row = await repo.findContactByExternalId(db, workspaceId, ref.external_id);
      return row ? reveal(workspaceId, toContact(row)) : undefined;
    },

    /**
     * Whether the workspace refuses this address for its domain's DNS (mx_check on and the domain takes
     * no mail): the error detail, else undefined. For writers that do not go through create/upsert/update
     * (the hosted form, imports); call it outside any transaction.
     */
    async mxRefusal(workspaceId: string, email: string): Promise<ErrorDetail | undefined> {
      try {
        await checkMx(workspaceId, email);
        return undefined;
      } catch (error) {
        if (error instanceof DomainError) return error.details?.[0];
        throw error;
      }
    },

    /** The workspace's list hygiene policy, read in `trx` when given (imports and list adds read it too). */
    async hygienePolicy(workspaceId: string, trx: Db = db): Promise<HygienePolicy> {
      return repo.hygienePolicyOf(trx, workspaceId);
    },

    /** The subset of `ids` that are contacts of this workspace. */
    async findByIds(workspaceId: string, ids: string[], trx: Db = db): Promise<Contact[]> {
      return (await repo.findByIds(trx, workspaceId, ids)).map(toContact);
    },
  };

  /** The input with sensitive attribute values encrypted: done before a transaction, as the cipher may read the database. */
  async function sealInput<T extends ContactPatch>(workspaceId: string, input: T): Promise<T> {
    return input.attributes
      ? { ...input, attributes: await attributes.seal(workspaceId, input.attributes) }
      : input;
  }

  async function reveal<T extends Contact>(workspaceId: string, contact: T): Promise<T> {
    return { ...contact, attributes: await attributes.reveal(workspaceId, contact.attributes) };
  }

  /** Attribute filter values arrive as text; compare them as the defined type so the GIN index applies. */
  async function typedFilter(workspaceId: string, filter: ContactFilter): Promise<ContactFilter> {
    if (!filter.attributes) return filter;
    const sensitive = await attributes.sensitiveNames(workspaceId);
    const compared = Object.keys(filter.attributes).filter((name) => sensitive.has(name));
    if (compared.length > 0) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `attribute "${compared[0]}" is sensitive: its values are stored encrypted and cannot be filtered by`,
        compared.map((name) => ({ path: `/attributes/${name}`, message: 'sensitive attribute' })),
      );
    }
    const definitions = await attributes.definitions(workspaceId);
    const typed: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(filter.attributes)) {
      const type = definitions.get(name);
      if (typeof value !== 'string') typed[name] = value;
      else if (type === 'number' && value.trim() !== '' && Number.isFinite(Number(value)))
        typed[name] = Number(value);
      else if (type === 'boolean' && (value === 'true' || value === 'false')) typed[name] = value === 'true';
      else typed[name] = value;
    }
    return { ...filter, attributes: typed };
  }
}

export type ContactService = ReturnType<typeof createContactService>;
export type { MembershipStatus };

function notFound(id: string): DomainError {
  return new DomainError('CONTACT_NOT_FOUND', `contact ${id} does not exist in this workspace`);
}

function withWarnings(contact: Contact, warnings: HygieneWarning[]): ContactWritten {
  return warnings.length > 0 ? { ...contact, warnings } : contact;
}

export function toContact(row: repo.ContactRow): Contact {
  return {
    id: row.id,
    email: row.email,
    external_id: row.external_id,
    status: row.status,
    attributes: row.attributes,
    tags: row.tags,
    timezone: row.timezone,
    locale: row.locale,
    tracking_consent: row.tracking_consent,
    do_not_sell: row.do_not_sell,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** Whether a contact may be handed to a third party (CCPA do not sell or share); the SQL form is shareablePredicate. */
export function isShareable(contact: Pick<Contact, 'do_not_sell'>): boolean {
  return !contact.do_not_sell;
}
