import type { Db, MembershipStatus } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, type Page, toPage } from '../../lib/cursor.js';
import { DomainError } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import type { ConsentEntry, ConsentLedger, ConsentOrigin } from '../consent/index.js';
import { type ContactService, checkEmail } from '../contacts/index.js';
import { recordWebhookEvent } from '../webhooks/index.js';
import * as repo from './lists.repository.js';

export type OptIn = repo.OptIn;
export type Visibility = repo.Visibility;

export interface List {
  id: string;
  name: string;
  description: string | null;
  opt_in: OptIn;
  visibility: Visibility;
  confirmation_template_id: string | null;
  confirmation_from_email: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface ListWithCounts extends List {
  member_counts: Record<MembershipStatus, number>;
}

export interface ListInput {
  name: string;
  description?: string | null | undefined;
  opt_in?: OptIn | undefined;
  visibility?: Visibility | undefined;
  confirmation_template_id?: string | null | undefined;
  confirmation_from_email?: string | null | undefined;
}

export interface ListPatch {
  name?: string | undefined;
  description?: string | null | undefined;
  opt_in?: OptIn | undefined;
  visibility?: Visibility | undefined;
  confirmation_template_id?: string | null | undefined;
  confirmation_from_email?: string | null | undefined;
}

export type Member = repo.MemberRow;

/** Contacts named by id and/or by email; together at most MAX_MEMBER_ENTRIES. */
export interface MemberTargets {
  contact_ids?: string[] | undefined;
  emails?: string[] | undefined;
}

export interface InvalidEmail {
  email: string;
  reason: string;
}

export interface SubscribeCounts {
  added: number;
  already_members: number;
  resubscribed: number;
  /** Part of already_members: unsubscribed members left unsubscribed because no status was given. */
  kept_unsubscribed: number;
}

export interface AddMembersResult extends SubscribeCounts {
  not_found: string[];
  invalid: InvalidEmail[];
}

interface TargetReport {
  /** Entries (ids or emails) that name no member of the list. */
  not_members: number;
  /** contact_ids that name no contact of this workspace. */
  not_found: string[];
  invalid: InvalidEmail[];
}

export interface UnsubscribeResult extends TargetReport {
  unsubscribed: number;
  already_unsubscribed: number;
}

export interface ConfirmResult extends TargetReport {
  confirmed: number;
  already_confirmed: number;
  /** Unsubscribed members are not confirmed; re-add them with a status to re-subscribe them. */
  skipped_unsubscribed: number;
}

export interface RemoveResult extends TargetReport {
  removed: number;
}

export const MAX_MEMBER_ENTRIES = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ListServiceDeps {
  db: Db;
  clock: Clock;
  contacts: Pick<ContactService, 'findByIds' | 'findOrCreateByEmails'>;
  consent: Pick<ConsentLedger, 'append'>;
  /**
   * Called in the subscribing transaction with the contacts that became
   * unconfirmed members of a double opt-in list, so the confirmation email is
   * queued if and only if the change commits.
   */
  onUnconfirmedSubscribed?: (
    trx: Db,
    workspaceId: string,
    listId: string,
    contactIds: string[],
  ) => Promise<void>;
}

export function createListService(deps: ListServiceDeps) {
  const { db, clock, contacts, consent } = deps;

  async function checkTemplate(workspaceId: string, templateId: string | null | undefined): Promise<void> {
    if (!templateId || (await repo.templateExists(db, workspaceId, templateId))) return;
    throw new DomainError(
      'TEMPLATE_NOT_FOUND',
      `template ${templateId} does not exist in this workspace; give the id of one of its templates or null for the built-in confirmation text`,
      [{ path: '/confirmation_template_id', message: 'no such template' }],
    );
  }

  async function requireListForChange(trx: Db, workspaceId: string, listId: string) {
    const list = await repo.findListForMembershipChange(trx, workspaceId, listId);
    if (!list) throw listNotFound(listId);
    return list;
  }

  /**
   * Subscribes contacts already known to belong to the workspace. New members
   * get `status`, or the list's default (confirmed for single opt-in,
   * unconfirmed for double); existing members keep theirs, except that
   * unsubscribed members are re-subscribed when `status` is given, because
   * only then does the caller assert fresh consent.
   */
  async function subscribe(
    workspaceId: string,
    list: repo.ListRow,
    contactIds: string[],
    status: 'confirmed' | 'unconfirmed' | undefined,
    origin: ConsentOrigin,
    trx: Db,
    /** Merged into every consent record's detail (e.g. the consent text a form showed). */
    extra?: Record<string, unknown>,
    /** Why an explicit status counts as confirmed; default 'asserted_by_caller'. */
    assertedReason = 'asserted_by_caller',
  ): Promise<SubscribeCounts> {
    const ids = [...new Set(contactIds)];
    const now = clock.now();
    const initial = status ?? (list.opt_in === 'single' ? 'confirmed' : 'unconfirmed');
    const existing = await repo.lockMemberships(trx, workspaceId, list.id, ids);
    const known = new Set(existing.map((m) => m.contact_id));
    const added = await repo.insertMemberships(
      trx,
      ids
        .filter((id) => !known.has(id))
        .map((id) => ({
          workspace_id: workspaceId,
          list_id: list.id,
          contact_id: id,
          status: initial,
          created_at: now,
          updated_at: now,
          confirmed_at: initial === 'confirmed' ? now : null,
          unsubscribed_at: null,
        })),
    );
    const unsubscribed = existing.filter((m) => m.status === 'unsubscribed').map((m) => m.contact_id);
    const resubscribed = status
      ? await repo.resubscribe(trx, workspaceId, list.id, unsubscribed, status, now)
      : [];

    // Proof of consent says how confirmation happened: by the list's single
    // opt-in, or by the caller asserting it with an explicit status.
    const confirmReason = status ? assertedReason : 'single_opt_in';
    const entries: ConsentEntry[] = [];
    for (const [contactIds, again] of [
      [added, false],
      [resubscribed, true],
    ] as const) {
      for (const contactId of contactIds) {
        entries.push({
          contactId,
          listId: list.id,
          action: 'subscribe',
          detail: again ? { ...extra, status: initial, resubscribed: true } : { ...extra, status: initial },
        });
        if (initial === 'confirmed')
          entries.push({
            contactId,
            listId: list.id,
            action: 'confirm',
            detail: { ...extra, reason: confirmReason },
          });
      }
    }
    if (entries.length > 0) await consent.append(workspaceId, origin, entries, trx);
    const pending = initial === 'unconfirmed' ? [...added, ...resubscribed] : [];
    if (list.opt_in === 'double' && pending.length > 0 && deps.onUnconfirmedSubscribed) {
      await deps.onUnconfirmedSubscribed(trx, workspaceId, list.id, pending);
    }
    return {
      added: added.length,
      resubscribed: resubscribed.length,
      already_members: ids.length - added.length - resubscribed.length,
      kept_unsubscribed: unsubscribed.length - resubscribed.length,
    };
  }

  /**
   * Finds the members named by id or email, locked for the change. Nothing is
   * created: an email or id that names no member is only counted.
   */
  async function resolveMembers(
    workspaceId: string,
    listId: string,
    targets: { ids: string[]; emails: string[] },
    trx: Db,
  ): Promise<{ members: repo.MembershipState[]; report: TargetReport }> {
    const idKeys = [...new Set(targets.ids.map((id) => id.toLowerCase()))];
    const known = new Set((await contacts.findByIds(workspaceId, idKeys, trx)).map((c) => c.id));
    const notFound = idKeys.filter((id) => !known.has(id));

    const invalid: InvalidEmail[] = [];
    const emailKeys = new Set<string>();
    for (const raw of targets.emails) {
      const checked = checkEmail(raw);
      if ('error' in checked) invalid.push({ email: raw, reason: checked.error.message });
      else emailKeys.add(checked.email.toLowerCase());
    }
    const byEmail = await repo.memberIdsByEmails(trx, workspaceId, listId, [...emailKeys]);

    const candidates = new Set([...known, ...byEmail.map((m) => m.contact_id)]);
    const members = await repo.lockMemberships(trx, workspaceId, listId, [...candidates]);
    const memberIds = new Set(members.map((m) => m.contact_id));
    const notMembers =
      [...known].filter((id) => !memberIds.has(id)).length + (emailKeys.size - byEmail.length);
    return { members, report: { not_members: notMembers, not_found: notFound, invalid } };
  }

  return {
    async create(workspaceId: string, input: ListInput): Promise<List> {
      const name = checkName(input.name);
      await checkTemplate(workspaceId, input.confirmation_template_id);
      const now = clock.now();
      const row = await repo.insertList(db, {
        id: uuidv7(now.getTime()),
        workspace_id: workspaceId,
        name,
        description: input.description ?? null,
        opt_in: input.opt_in ?? 'single',
        visibility: input.visibility ?? 'private',
        confirmation_template_id: input.confirmation_template_id ?? null,
        confirmation_from_email: input.confirmation_from_email ?? null,
        created_at: now,
        updated_at: now,
      });
      if (!row) throw await nameTaken(workspaceId, name);
      return toList(row);
    },

    async get(workspaceId: string, id: string): Promise<ListWithCounts> {
      const row = await repo.findList(db, workspaceId, id);
      if (!row) throw listNotFound(id);
      return { ...toList(row), member_counts: await repo.countMembersByStatus(db, workspaceId, id) };
    },

    /** A public list by id alone, with its workspace; undefined for private or unknown lists (hosted form). */
    async findPublic(listId: string): Promise<(List & { workspace_id: string }) | undefined> {
      if (!UUID.test(listId)) return undefined;
      const workspaceId = await repo.findPublicListWorkspace(db, listId);
      if (!workspaceId) return undefined;
      const row = await repo.findList(db, workspaceId, listId);
      return row ? { ...toList(row), workspace_id: workspaceId } : undefined;
    },

    async update(workspaceId: string, id: string, patch: ListPatch): Promise<List> {
      const changes: repo.ListChanges = {};
      if (patch.name !== undefined) changes.name = checkName(patch.name);
      if (patch.description !== undefined) changes.description = patch.description;
      if (patch.opt_in !== undefined) changes.opt_in = patch.opt_in;
      if (patch.visibility !== undefined) changes.visibility = patch.visibility;
      if (patch.confirmation_template_id !== undefined) {
        await checkTemplate(workspaceId, patch.confirmation_template_id);
        changes.confirmation_template_id = patch.confirmation_template_id;
      }
      if (patch.confirmation_from_email !== undefined)
        changes.confirmation_from_email = patch.confirmation_from_email;
      const result = await repo.updateList(db, workspaceId, id, changes, clock.now());
      if ('nameTaken' in result) throw await nameTaken(workspaceId, changes.name ?? '');
      if (!result.row) throw listNotFound(id);
      return toList(result.row);
    },

    async remove(workspaceId: string, id: string): Promise<void> {
      if (!(await repo.deleteList(db, workspaceId, id))) throw listNotFound(id);
    },

    async list(
      workspaceId: string,
      filter: { visibility?: Visibility | undefined },
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<List>> {
      const rows = await repo.listLists(db, workspaceId, filter, {
        after: decodeCursor(page.cursor),
        limit: page.limit,
      });
      return toPage(rows.map(toList), page.limit);
    },

    async members(
      workspaceId: string,
      listId: string,
      filter: { status?: MembershipStatus | undefined },
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<Member>> {
      const after = decodeCursor(page.cursor);
      if (!(await repo.findList(db, workspaceId, listId))) throw listNotFound(listId);
      const rows = await repo.listMembers(db, workspaceId, listId, filter, { after, limit: page.limit });
      const data = rows.slice(0, page.limit);
      const last = data[data.length - 1];
      return {
        data,
        next_cursor: rows.length > page.limit && last ? encodeCursor(last.contact_id) : null,
      };
    },

    /**
     * Adds contacts by id and by email in one transaction. Unknown emails become
     * new contacts; unknown ids and invalid emails are reported, never added,
     * and never stop the valid entries.
     */
    async addMembers(
      workspaceId: string,
      listId: string,
      input: MemberTargets & { status?: 'confirmed' | 'unconfirmed' | undefined },
      origin: ConsentOrigin,
      /** Merged into the consent records' detail (the hosted form stores its consent text here). */
      options: { detail?: Record<string, unknown> } = {},
    ): Promise<AddMembersResult> {
      const targets = checkTargets(input);
      return db.transaction().execute(async (trx) => {
        const list = await requireListForChange(trx, workspaceId, listId);
        const idKeys = [...new Set(targets.ids.map((id) => id.toLowerCase()))];
        const byId = await contacts.findByIds(workspaceId, idKeys, trx);
        const known = new Set(byId.map((c) => c.id));
        const byEmail = await contacts.findOrCreateByEmails(workspaceId, targets.emails, trx);
        const counts = await subscribe(
          workspaceId,
          list,
          [...known, ...byEmail.contacts.map((c) => c.id)],
          input.status,
          origin,
          trx,
          options.detail,
        );
        return { ...counts, not_found: idKeys.filter((id) => !known.has(id)), invalid: byEmail.invalid };
      });
    },

    /**
     * Subscribes contacts of this workspace inside the caller's transaction,
     * with the same rules as addMembers; for imports and other bulk paths.
     */
    async subscribeContacts(
      workspaceId: string,
      listId: string,
      contactIds: string[],
      status: 'confirmed' | 'unconfirmed' | undefined,
      origin: ConsentOrigin,
      trx: Db,
    ): Promise<SubscribeCounts> {
      const list = await requireListForChange(trx, workspaceId, listId);
      const known = await contacts.findByIds(workspaceId, contactIds, trx);
      return subscribe(
        workspaceId,
        list,
        known.map((c) => c.id),
        status,
        origin,
        trx,
      );
    },

    /**
     * One contact's own choices on several lists, in one transaction: for the
     * public pages (one-click unsubscribe, preference center), where the person
     * acts through a signed link. Unsubscribes subscribed memberships; subscribes
     * (or re-subscribes) to `subscribe` lists as confirmed, because the signed
     * link was delivered to the contact's own mailbox, which is what double
     * opt-in proves (the confirm records say so in `reason`). Lists that no
     * longer exist are skipped. Every change writes a consent record whose
     * detail includes `detail`. Returns the list ids actually changed.
     */
    async changeOwnSubscriptions(
      workspaceId: string,
      contactId: string,
      changes: { unsubscribe?: string[]; subscribe?: string[] },
      origin: ConsentOrigin,
      detail: Record<string, unknown>,
    ): Promise<{ unsubscribed: string[]; subscribed: string[] }> {
      return db.transaction().execute(async (trx) => {
        const unsubscribed: string[] = [];
        const subscribed: string[] = [];
        for (const listId of [...new Set(changes.unsubscribe ?? [])]) {
          const list = await repo.findListForMembershipChange(trx, workspaceId, listId);
          if (!list) continue;
          const [member] = await repo.lockMemberships(trx, workspaceId, listId, [contactId]);
          if (!member) continue;
          const changed = await repo.changeStatus(
            trx,
            workspaceId,
            listId,
            [contactId],
            'unsubscribed',
            clock.now(),
          );
          if (changed.length === 0) continue;
          unsubscribed.push(listId);
          await recordWebhookEvent(trx, {
            workspaceId,
            type: 'contact.unsubscribed',
            contactId,
            data: { scope: 'list', list_id: listId, from: member.status },
            at: clock.now(),
          });
          await consent.append(
            workspaceId,
            origin,
            [{ contactId, listId, action: 'unsubscribe', detail: { ...detail, from: member.status } }],
            trx,
          );
        }
        for (const listId of [...new Set(changes.subscribe ?? [])]) {
          const list = await repo.findListForMembershipChange(trx, workspaceId, listId);
          if (!list) continue;
          const [member] = await repo.lockMemberships(trx, workspaceId, listId, [contactId]);
          if (member?.status === 'confirmed') continue;
          if (member?.status === 'unconfirmed') {
            await repo.changeStatus(trx, workspaceId, listId, [contactId], 'confirmed', clock.now());
            await consent.append(
              workspaceId,
              origin,
              [{ contactId, listId, action: 'confirm', detail: { ...detail, reason: 'signed_link' } }],
              trx,
            );
          } else {
            await subscribe(workspaceId, list, [contactId], 'confirmed', origin, trx, detail, 'signed_link');
          }
          subscribed.push(listId);
        }
        return { unsubscribed, subscribed };
      });
    },

    async unsubscribeMembers(
      workspaceId: string,
      listId: string,
      input: MemberTargets,
      origin: ConsentOrigin,
    ): Promise<UnsubscribeResult> {
      const targets = checkTargets(input);
      return db.transaction().execute(async (trx) => {
        await requireListForChange(trx, workspaceId, listId);
        const { members, report } = await resolveMembers(workspaceId, listId, targets, trx);
        const before = new Map(members.map((m) => [m.contact_id, m.status]));
        const changed = await repo.changeStatus(
          trx,
          workspaceId,
          listId,
          members.map((m) => m.contact_id),
          'unsubscribed',
          clock.now(),
        );
        if (changed.length > 0) {
          await consent.append(
            workspaceId,
            origin,
            changed.map((contactId) => ({
              contactId,
              listId,
              action: 'unsubscribe' as const,
              detail: { from: before.get(contactId) ?? null },
            })),
            trx,
          );
        }
        return {
          unsubscribed: changed.length,
          already_unsubscribed: members.length - changed.length,
          ...report,
        };
      });
    },

    async confirmMembers(
      workspaceId: string,
      listId: string,
      input: MemberTargets,
      origin: ConsentOrigin,
    ): Promise<ConfirmResult> {
      const targets = checkTargets(input);
      return db.transaction().execute(async (trx) => {
        await requireListForChange(trx, workspaceId, listId);
        const { members, report } = await resolveMembers(workspaceId, listId, targets, trx);
        const changed = await repo.changeStatus(
          trx,
          workspaceId,
          listId,
          members.map((m) => m.contact_id),
          'confirmed',
          clock.now(),
        );
        if (changed.length > 0) {
          await consent.append(
            workspaceId,
            origin,
            changed.map((contactId) => ({ contactId, listId, action: 'confirm' as const })),
            trx,
          );
        }
        return {
          confirmed: changed.length,
          already_confirmed: members.filter((m) => m.status === 'confirmed').length,
          skipped_unsubscribed: members.filter((m) => m.status === 'unsubscribed').length,
          ...report,
        };
      });
    },

    /**
     * Mirrors one contact's membership status at another system (a CRM's
     * audience) onto the list, in one transaction, with consent records whose
     * detail includes `detail`. Herald's own unsubscribe wins: an unsubscribed
     * member is never subscribed again from another system (only the person,
     * through a form or signed link, or an explicit API call does that).
     * Non-members told "unsubscribed" get an unsubscribed membership, so a
     * later add by email keeps them out unless a status is asserted.
     */
    async applyExternalStatus(
      workspaceId: string,
      listId: string,
      contactId: string,
      to: MembershipStatus,
      origin: ConsentOrigin,
      detail: Record<string, unknown>,
    ): Promise<'added' | 'changed' | 'unchanged' | 'kept_unsubscribed'> {
      return db.transaction().execute(async (trx) => {
        const list = await requireListForChange(trx, workspaceId, listId);
        const [member] = await repo.lockMemberships(trx, workspaceId, listId, [contactId]);
        const now = clock.now();
        if (!member) {
          if (to === 'unsubscribed') {
            await repo.insertMemberships(trx, [
              {
                workspace_id: workspaceId,
                list_id: listId,
                contact_id: contactId,
                status: 'unsubscribed',
                created_at: now,
                updated_at: now,
                confirmed_at: null,
                unsubscribed_at: now,
              },
            ]);
            await consent.append(
              workspaceId,
              origin,
              [{ contactId, listId, action: 'unsubscribe', detail: { ...detail, from: null } }],
              trx,
            );
          } else {
            await subscribe(workspaceId, list, [contactId], to, origin, trx, detail, 'external_system');
          }
          return 'added';
        }
        if (member.status === to) return 'unchanged';
        if (member.status === 'unsubscribed') return 'kept_unsubscribed';
        if (to === 'unconfirmed') return 'unchanged';
        await repo.changeStatus(trx, workspaceId, listId, [contactId], to, now);
        await consent.append(
          workspaceId,
          origin,
          [
            to === 'confirmed'
              ? { contactId, listId, action: 'confirm', detail: { ...detail, reason: 'external_system' } }
              : { contactId, listId, action: 'unsubscribe', detail: { ...detail, from: member.status } },
          ],
          trx,
        );
        return 'changed';
      });
    },

    /**
     * Takes a contact off a list because an external system says so (a
     * Mailchimp tag removed): the membership goes, recorded in the consent
     * ledger like any removal. An unsubscribed membership stays: it is the
     * person's own choice, and a later subscribe must still find it.
     */
    async removeExternalMembership(
      workspaceId: string,
      listId: string,
      contactId: string,
      origin: ConsentOrigin,
      detail: Record<string, unknown>,
    ): Promise<'removed' | 'absent' | 'kept_unsubscribed'> {
      return db.transaction().execute(async (trx) => {
        await requireListForChange(trx, workspaceId, listId);
        const [member] = await repo.lockMemberships(trx, workspaceId, listId, [contactId]);
        if (!member) return 'absent';
        if (member.status === 'unsubscribed') return 'kept_unsubscribed';
        await repo.deleteMemberships(trx, workspaceId, listId, [contactId]);
        await consent.append(
          workspaceId,
          origin,
          [
            {
              contactId,
              listId,
              action: 'unsubscribe',
              detail: { ...detail, removed: true, from: member.status },
            },
          ],
          trx,
        );
        return 'removed';
      });
    },

    async removeMembers(
      workspaceId: string,
      listId: string,
      input: MemberTargets,
      origin: ConsentOrigin,
    ): Promise<RemoveResult> {
      const targets = checkTargets(input);
      return db.transaction().execute(async (trx) => {
        await requireListForChange(trx, workspaceId, listId);
        const { members, report } = await resolveMembers(workspaceId, listId, targets, trx);
        const removed = await repo.deleteMemberships(
          trx,
          workspaceId,
          listId,
          members.map((m) => m.contact_id),
        );
        if (removed.length > 0) {
          // The ledger has no "remove" action: leaving a list is an unsubscribe as far as consent goes.
          await consent.append(
            workspaceId,
            origin,
            removed.map((m) => ({
              contactId: m.contact_id,
              listId,
              action: 'unsubscribe' as const,
              detail: { removed: true, from: m.status },
            })),
            trx,
          );
        }
        return { removed: removed.length, ...report };
      });
    },
  };

  async function nameTaken(workspaceId: string, name: string): Promise<DomainError> {
    const other = await repo.findListByName(db, workspaceId, name);
    return new DomainError(
      'LIST_EXISTS',
      `a list named "${other?.name ?? name}" already exists${other ? ` (id ${other.id})` : ''}; names are unique regardless of case, choose another name`,
      [{ path: '/name', message: 'already used by another list', ...(other ? { list_id: other.id } : {}) }],
    );
  }
}

export type ListService = ReturnType<typeof createListService>;

function checkName(raw: string): string {
  const name = raw.trim();
  if (name === '') {
    throw new DomainError('VALIDATION_FAILED', 'name is blank: give the list a name', [
      { path: '/name', message: 'must not be blank' },
    ]);
  }
  return name;
}

function checkTargets(input: MemberTargets): { ids: string[]; emails: string[] } {
  const ids = input.contact_ids ?? [];
  const emails = input.emails ?? [];
  const total = ids.length + emails.length;
  if (total === 0) {
    throw new DomainError(
      'VALIDATION_FAILED',
      'no contacts named: give contact_ids, emails or both, with at least one entry',
      [{ path: '/contact_ids', message: 'contact_ids or emails must name at least one contact' }],
    );
  }
  if (total > MAX_MEMBER_ENTRIES) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `${total} entries given, but a request takes at most ${MAX_MEMBER_ENTRIES} contact_ids and emails together; split it into several requests`,
      [{ message: `at most ${MAX_MEMBER_ENTRIES} entries in contact_ids and emails together` }],
    );
  }
  return { ids, emails };
}

function listNotFound(id: string): DomainError {
  return new DomainError('LIST_NOT_FOUND', `list ${id} does not exist in this workspace`);
}

function toList(row: repo.ListRow): List {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    opt_in: row.opt_in,
    visibility: row.visibility,
    confirmation_template_id: row.confirmation_template_id,
    confirmation_from_email: row.confirmation_from_email,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
