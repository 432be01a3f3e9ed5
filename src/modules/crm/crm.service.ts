import type { Logger } from 'pino';
import {
  type CrmProvider,
  type CrmRunKind,
  type CrmRunProblem,
  type Db,
  encryptedColumn,
} from '../../db/index.js';
import type { JobQueue } from '../../jobs/index.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError, type ErrorDetail } from '../../lib/errors.js';
import { uuidv7 } from '../../lib/ids.js';
import { ATTRIBUTE_NAME, type AttributeService } from '../attributes/index.js';
import type { ConsentOrigin } from '../consent/index.js';
import type { Contact, ContactService } from '../contacts/index.js';
import type { ListService } from '../lists/index.js';
import { ConnectorError, type Sleep } from './connector-http.js';
import * as repo from './crm.repository.js';
import { crmSecretPurpose, openCrmSecret, type SecretCipher, sealCrmSecret } from './crm-secrets.js';
import { createHubspotClient, HUBSPOT_BATCH, type HubspotContact } from './hubspot-client.js';
import { createMailchimpClient, dataCenterOf, type MailchimpMember } from './mailchimp-client.js';
import {
  type MailchimpSettings,
  memberAttributes,
  optInEvidence,
  planFor,
  type TagHandling,
  tagListNames,
  tagLists,
} from './mailchimp-mapping.js';

export const CRM_RUN_TASK = 'crm.run';
export const CRM_SYNC_TASK = 'crm.sync';

/** Mailchimp's last_changed is the provider's clock: each sync reads this much before the previous one began. */
const SYNC_OVERLAP_MS = 5 * 60_000;
/** Problems with single records kept per run (the counts hold them all). */
const MAX_PROBLEMS = 100;
const MERGE_TAG = /^[A-Z0-9_]{1,10}$/;

export interface CrmRunPayload {
  workspaceId: string;
  runId: string;
}

export interface MailchimpConnectionInput {
  /** Required the first time; omitted later keeps the stored key. */
  api_key?: string | undefined;
  audience_id: string;
  list_id: string;
  merge_fields?: Record<string, string> | undefined;
  tags?:
    | {
        mode: 'ignore' | 'attribute' | 'lists';
        attribute?: string | undefined;
        lists?: Record<string, string> | undefined;
      }
    | undefined;
  sync_enabled?: boolean | undefined;
}

export interface MailchimpConnectionView {
  id: string;
  provider: 'mailchimp';
  data_center: string;
  audience_id: string;
  audience_name: string;
  list_id: string;
  merge_fields: Record<string, string>;
  tags: TagHandling;
  sync_enabled: boolean;
  synced_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

const HUBSPOT_PROPERTY = /^[a-z0-9_]{1,100}$/;

export interface HubspotConnectionInput {
  /** Private app token; required the first time, omitted later keeps the stored one. */
  token?: string | undefined;
  /** HubSpot contact property -> Herald attribute, used in both directions. */
  properties: Record<string, string>;
  sync_enabled?: boolean | undefined;
  /** Push Herald changes to HubSpot after every sync; default true. */
  push_enabled?: boolean | undefined;
}

interface HubspotSettings {
  properties: Record<string, string>;
  push_enabled: boolean;
}

export interface HubspotConnectionView {
  id: string;
  provider: 'hubspot';
  properties: Record<string, string>;
  sync_enabled: boolean;
  push_enabled: boolean;
  synced_until: Date | null;
  pushed_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type ConnectionView = MailchimpConnectionView | HubspotConnectionView;

export interface RunView {
  id: string;
  connection_id: string;
  kind: CrmRunKind;
  status: repo.RunRow['status'];
  since: Date | null;
  pages: number;
  processed: number;
  total: number | null;
  counts: Record<string, number>;
  problems: CrmRunProblem[];
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface CrmServiceDeps {
  db: Db;
  clock: Clock;
  /** Encrypts connection keys and tokens with the workspace data key. */
  cipher: SecretCipher;
  logger: Logger;
  jobs: Pick<JobQueue, 'enqueue'>;
  contacts: Pick<ContactService, 'upsert' | 'list'>;
  lists: Pick<ListService, 'get' | 'applyExternalStatus' | 'removeExternalMembership'>;
  attributes: Pick<AttributeService, 'definitions'>;
  /** The deliverability module's suppression list (cleaned addresses go there). */
  suppressions: {
    addSuppression(
      workspaceId: string,
      input: { email: string; reason?: 'hard_bounce'; note?: string },
      by: { source: string; id?: string | null },
    ): Promise<unknown>;
  };
  mailchimp: { baseUrl?: string | undefined; pageSize: number };
  hubspot: { baseUrl?: string | undefined };
  /**
   * Whether a contact may be sent to a CRM (HubSpot push). The container wires
   * the CCPA do-not-sell rule here; a contact refused is never pushed.
   */
  mayShare: (contact: Contact) => boolean;
  /** Waits between retries; tests pass one that returns at once. */
  sleep: Sleep;
}

export function createCrmService(deps: CrmServiceDeps) {
  const { db, clock, cipher } = deps;

  function invalid(message: string, details: ErrorDetail[]): DomainError {
    return new DomainError('CONNECTOR_INVALID', message, details);
  }

  /** A provider's refusal during configuration, as the error the user sees. */
  function configError(error: unknown, path: string, credentialPath = '/api_key'): never {
    if (!(error instanceof ConnectorError)) throw error;
    if (error.kind === 'credentials')
      throw new DomainError('CONNECTOR_CREDENTIALS_REJECTED', error.message, [
        { path: credentialPath, message: 'refused by the provider' },
      ]);
    if (error.kind === 'not_found')
      throw invalid(error.message, [{ path, message: 'the provider does not know this id' }]);
    if (error.kind === 'unavailable') throw new DomainError('CONNECTOR_UNAVAILABLE', error.message);
    throw invalid(error.message, [{ path, message: 'refused by the provider' }]);
  }

  function mailchimpView(row: repo.ConnectionRow): MailchimpConnectionView {
    const settings = row.settings as unknown as MailchimpSettings & { data_center: string };
    return {
      id: row.id,
      provider: 'mailchimp',
      data_center: settings.data_center,
      audience_id: settings.audience_id,
      audience_name: settings.audience_name,
      list_id: settings.list_id,
      merge_fields: settings.merge_fields,
      tags: settings.tags,
      sync_enabled: row.sync_enabled,
      synced_until: row.synced_until,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  function hubspotView(row: repo.ConnectionRow): HubspotConnectionView {
    const settings = row.settings as unknown as HubspotSettings;
    return {
      id: row.id,
      provider: 'hubspot',
      properties: settings.properties,
      sync_enabled: row.sync_enabled,
      push_enabled: settings.push_enabled,
      synced_until: row.synced_until,
      pushed_until: row.pushed_until,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  function hubspotClient(token: string, signal?: AbortSignal) {
    return createHubspotClient({
      token,
      baseUrl: deps.hubspot.baseUrl,
      sleep: deps.sleep,
      now: () => clock.now().getTime(),
      signal,
    });
  }

  function secretOf(connection: repo.ConnectionRow): Promise<string> {
    return openCrmSecret(cipher, connection.workspace_id, connection.id, connection.secret);
  }

  function count(counts: Record<string, number>, key: string, by = 1): void {
    counts[key] = (counts[key] ?? 0) + by;
  }

  /** Pulls HubSpot contacts (all, or those updated after `since`) into Herald by email, mapped properties as attributes. */
  async function runHubspotPull(connection: repo.ConnectionRow, run: repo.RunRow, signal?: AbortSignal) {
    const settings = connection.settings as unknown as HubspotSettings;
    const client = hubspotClient(await secretOf(connection), signal);
    const counts = { ...run.counts };
    const problems = [...run.problems];
    let after = run.next_cursor;
    let position = run.next_offset;
    let pages = run.pages;
    const properties = ['email', ...Object.keys(settings.properties).filter((p) => p !== 'email')];
    for (;;) {
      signal?.throwIfAborted();
      const page = await client.contacts({ after, properties });
      for (const contact of page.results) {
        position += 1;
        count(counts, 'fetched');
        if (run.since && contact.updatedAt && Date.parse(contact.updatedAt) <= run.since.getTime()) {
          count(counts, 'unchanged_skipped');
          continue;
        }
        const email = contact.properties.email;
        if (!email) {
          count(counts, 'skipped_no_email');
          continue;
        }
        try {
          const written = await deps.contacts.upsert(
            connection.workspace_id,
            { email, attributes: hubspotAttributes(contact, settings) },
            { source: 'import', sourceId: run.id },
          );
          count(counts, written.created ? 'contacts_created' : 'contacts_updated');
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          count(counts, 'failed');
          if (problems.length < MAX_PROBLEMS)
            problems.push({ position: position - 1, email, reason: error.message });
        }
      }
      after = page.after;
      pages += 1;
      const done = after === null;
      await repo.updateRun(
        db,
        run.id,
        {
          next_offset: position,
          next_cursor: after,
          pages,
          counts,
          problems,
          ...(done ? { status: 'completed', finished_at: clock.now() } : {}),
        },
        clock.now(),
      );
      if (done) break;
    }
    await repo.setSyncedUntil(db, connection.workspace_id, connection.id, run.created_at);
    if (settings.push_enabled) await enqueueRunAfter(connection, 'push');
  }

  /**
   * Pushes Herald contacts changed since the last push (up to when this run
   * first started, so a resumed run reads the same set) to HubSpot, mapped
   * attributes as properties, 100 per batch.
   * Contacts that may not be shared (do-not-sell) are counted, never sent.
   */
  async function runHubspotPush(connection: repo.ConnectionRow, run: repo.RunRow, signal?: AbortSignal) {
    const settings = connection.settings as unknown as HubspotSettings;
    const client = hubspotClient(await secretOf(connection), signal);
    const counts = { ...run.counts };
    let cursor = run.next_cursor ?? undefined;
    let pages = run.pages;
    let position = run.next_offset;
    const until = run.started_at ?? run.created_at;
    const filter = { updatedAfter: connection.pushed_until ?? undefined, updatedBefore: until };
    for (;;) {
      signal?.throwIfAborted();
      const page = await deps.contacts.list(connection.workspace_id, filter, {
        cursor,
        limit: HUBSPOT_BATCH,
      });
      const inputs = [];
      for (const contact of page.data) {
        if (!deps.mayShare(contact)) {
          count(counts, 'not_shared');
          continue;
        }
        inputs.push({
          idProperty: 'email' as const,
          id: contact.email,
          properties: hubspotProperties(contact, settings),
        });
      }
      if (inputs.length > 0) await client.upsertByEmail(inputs);
      count(counts, 'pushed', inputs.length);
      position += page.data.length;
      pages += 1;
      cursor = page.next_cursor ?? undefined;
      const done = page.next_cursor === null;
      await repo.updateRun(
        db,
        run.id,
        {
          next_offset: position,
          next_cursor: page.next_cursor,
          pages,
          counts,
          ...(done ? { status: 'completed', finished_at: clock.now() } : {}),
        },
        clock.now(),
      );
      if (done) break;
    }
    await repo.setPushedUntil(db, connection.workspace_id, connection.id, until);
  }

  function runView(row: repo.RunRow): RunView {
    return {
      id: row.id,
      connection_id: row.connection_id,
      kind: row.kind,
      status: row.status,
      since: row.since,
      pages: row.pages,
      processed: row.next_offset,
      total: row.total,
      counts: row.counts,
      problems: row.problems,
      error: row.error,
      created_at: row.created_at,
      started_at: row.started_at,
      finished_at: row.finished_at,
    };
  }

  function mailchimpClient(apiKey: string, signal?: AbortSignal) {
    return createMailchimpClient({
      apiKey,
      baseUrl: deps.mailchimp.baseUrl,
      sleep: deps.sleep,
      now: () => clock.now().getTime(),
      signal,
    });
  }

  async function requireConnection(workspaceId: string, provider: CrmProvider): Promise<repo.ConnectionRow> {
    const row = await repo.findConnection(db, workspaceId, provider);
    if (!row) {
      throw new DomainError(
        'CONNECTOR_NOT_FOUND',
        `this workspace has no ${provider} connection; create it with PUT /v1/connectors/${provider}`,
      );
    }
    return row;
  }

  /** Checks what can be checked without the provider, all at once. */
  async function checkMailchimpInput(
    workspaceId: string,
    input: MailchimpConnectionInput,
    storedKey: string | undefined,
  ): Promise<{ apiKey: string; tags: TagHandling; merge: Record<string, string> }> {
    const errors: ErrorDetail[] = [];
    const apiKey = input.api_key?.trim() ?? storedKey;
    if (apiKey === undefined)
      errors.push({ path: '/api_key', message: 'required when creating the connection' });
    else if (!dataCenterOf(apiKey))
      errors.push({
        path: '/api_key',
        message: 'not a Mailchimp API key: it looks like 0123456789abcdef0123456789abcdef-us21',
      });
    const merge = input.merge_fields ?? {};
    for (const [tag, attribute] of Object.entries(merge)) {
      if (!MERGE_TAG.test(tag))
        errors.push({
          path: `/merge_fields/${tag}`,
          message: `"${tag}" is not a merge tag: merge tags are 1-10 upper-case letters, digits or _ (FNAME)`,
        });
      if (!ATTRIBUTE_NAME.test(attribute))
        errors.push({
          path: `/merge_fields/${tag}`,
          message: `"${attribute}" is not an attribute name: start with a letter or _, then letters, digits, _ . - (max 64)`,
        });
    }
    const definitions = await deps.attributes.definitions(workspaceId);
    let tags: TagHandling = { mode: 'ignore' };
    const given = input.tags ?? { mode: 'ignore' };
    if (given.mode === 'attribute') {
      const attribute = given.attribute ?? '';
      if (!ATTRIBUTE_NAME.test(attribute))
        errors.push({
          path: '/tags/attribute',
          message: 'attribute mode needs the attribute name that holds the tags',
        });
      else if (definitions.has(attribute) && definitions.get(attribute) !== 'json')
        errors.push({
          path: '/tags/attribute',
          message: `attribute "${attribute}" is defined as ${definitions.get(attribute)}; tags are a JSON array, so it must be json (or undefined)`,
        });
      else tags = { mode: 'attribute', attribute };
    } else if (given.mode === 'lists') {
      const lists = given.lists ?? {};
      if (Object.keys(lists).length === 0)
        errors.push({ path: '/tags/lists', message: 'lists mode needs at least one tag name -> list id' });
      for (const [tag, listId] of Object.entries(lists)) {
        try {
          await deps.lists.get(workspaceId, listId);
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          errors.push({
            path: `/tags/lists/${tag}`,
            message: `list ${listId} does not exist in this workspace`,
          });
        }
      }
      tags = { mode: 'lists', lists };
    }
    try {
      await deps.lists.get(workspaceId, input.list_id);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      errors.push({ path: '/list_id', message: `list ${input.list_id} does not exist in this workspace` });
    }
    if (errors.length > 0 || apiKey === undefined) {
      throw invalid(
        `the Mailchimp connection is not valid: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`,
        errors,
      );
    }
    return { apiKey, tags, merge };
  }

  async function enqueueRun(
    connection: repo.ConnectionRow,
    kind: CrmRunKind,
    since: Date | null,
  ): Promise<{ run: RunView; created: boolean }> {
    return db.transaction().execute(async (trx) => {
      const now = clock.now();
      const row = await repo.insertRun(trx, {
        id: uuidv7(now.getTime()),
        workspace_id: connection.workspace_id,
        connection_id: connection.id,
        kind,
        status: 'queued',
        since,
        created_at: now,
        updated_at: now,
      });
      if (!row) {
        const active = await repo.activeRun(trx, connection.workspace_id, connection.id);
        if (!active) throw new Error('an unfinished run blocked the insert but cannot be read');
        return { run: runView(active), created: false };
      }
      const payload: CrmRunPayload = { workspaceId: connection.workspace_id, runId: row.id };
      await deps.jobs.enqueue(
        CRM_RUN_TASK,
        payload,
        { workspaceId: connection.workspace_id, idempotencyKey: row.id, maxAttempts: 10 },
        trx,
      );
      return { run: runView(row), created: true };
    });
  }

  /** Queues the next run of a connection once the current one is marked finished (a sync's push). */
  async function enqueueRunAfter(connection: repo.ConnectionRow, kind: CrmRunKind): Promise<void> {
    await enqueueRun(connection, kind, null);
  }

  /** Applies one Mailchimp member; returns the outcome counted in the run. */
  async function applyMailchimpMember(
    connection: repo.ConnectionRow,
    settings: MailchimpSettings,
    run: repo.RunRow,
    member: MailchimpMember,
  ): Promise<string[]> {
    const workspaceId = connection.workspace_id;
    const plan = planFor(member.status);
    if (plan.action === 'skip') return [`skipped_${plan.why}`];
    if (plan.action === 'suppress') {
      await deps.suppressions.addSuppression(
        workspaceId,
        {
          email: member.email_address,
          reason: 'hard_bounce',
          note: `cleaned in Mailchimp audience ${settings.audience_id}`,
        },
        { source: 'mailchimp', id: connection.id },
      );
      return ['suppressed'];
    }
    const origin: ConsentOrigin = { source: 'import', sourceId: run.id };
    const written = await deps.contacts.upsert(
      workspaceId,
      { email: member.email_address, attributes: memberAttributes(member, settings) },
      origin,
    );
    const evidence = optInEvidence(member);
    const detail = {
      provider: 'mailchimp',
      audience_id: settings.audience_id,
      mailchimp_status: member.status,
      ...(evidence.opt_in_at ? { opt_in_at: evidence.opt_in_at } : {}),
    };
    const listOrigin: ConsentOrigin = { ...origin, ip: evidence.ip };
    const outcomes = [written.created ? 'contacts_created' : 'contacts_updated'];
    const contactId = written.contact.id;
    const tagged = tagListNames(member, settings);
    for (const listId of [settings.list_id, ...tagLists(member, settings)]) {
      const result = await deps.lists.applyExternalStatus(
        workspaceId,
        listId,
        contactId,
        plan.status,
        listOrigin,
        detail,
      );
      outcomes.push(`memberships_${result}`);
      const tag = tagged.get(listId);
      // Provenance: only a membership this tag created may be taken back when the tag goes.
      if (result === 'added' && tag !== undefined) {
        await repo.recordTagMembership(db, {
          connection_id: connection.id,
          list_id: listId,
          contact_id: contactId,
          workspace_id: workspaceId,
          tag,
          created_at: clock.now(),
        });
      }
    }
    if (settings.tags.mode === 'lists') {
      for (const made of await repo.tagMembershipsOf(db, connection.id, contactId)) {
        // Still tagged, or the mapping changed since (not a removal in Mailchimp): left alone.
        if (tagged.has(made.list_id) || settings.tags.lists[made.tag] !== made.list_id) continue;
        const removed = await deps.lists.removeExternalMembership(
          workspaceId,
          made.list_id,
          contactId,
          listOrigin,
          {
            ...detail,
            reason: 'mailchimp_tag_removed',
            tag: made.tag,
          },
        );
        await repo.forgetTagMembership(db, connection.id, made.list_id, contactId);
        if (removed === 'removed') outcomes.push('memberships_removed');
      }
    }
    return outcomes;
  }

  async function runMailchimp(
    connection: repo.ConnectionRow,
    run: repo.RunRow,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const settings = connection.settings as unknown as MailchimpSettings;
    const client = mailchimpClient(await secretOf(connection), signal);
    const counts = { ...run.counts };
    const problems = [...run.problems];
    let offset = run.next_offset;
    let pages = run.pages;
    const count = deps.mailchimp.pageSize;
    for (;;) {
      signal?.throwIfAborted();
      const page = await client.members(settings.audience_id, { count, offset, since: run.since });
      for (const [index, member] of page.members.entries()) {
        try {
          for (const outcome of await applyMailchimpMember(connection, settings, run, member)) {
            counts[outcome] = (counts[outcome] ?? 0) + 1;
          }
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          counts.failed = (counts.failed ?? 0) + 1;
          if (problems.length < MAX_PROBLEMS)
            problems.push({
              position: offset + index,
              email: member.email_address ?? null,
              reason: error.message,
            });
        }
      }
      counts.fetched = (counts.fetched ?? 0) + page.members.length;
      offset += page.members.length;
      pages += 1;
      const done = page.members.length < count || offset >= page.total_items;
      // Progress after every page: a crash resumes at the next one, and the page just done is never lost.
      await repo.updateRun(
        db,
        run.id,
        {
          next_offset: offset,
          pages,
          total: page.total_items,
          counts,
          problems,
          ...(done ? { status: 'completed', finished_at: clock.now() } : {}),
        },
        clock.now(),
      );
      if (done) break;
    }
    // The next sync reads changes from when this run was asked for (members changed while it paged included).
    await repo.setSyncedUntil(db, connection.workspace_id, connection.id, run.created_at);
  }

  async function failRun(runId: string, message: string): Promise<void> {
    await repo.updateRun(
      db,
      runId,
      { status: 'failed', error: message, finished_at: clock.now() },
      clock.now(),
    );
  }

  return {
    async connections(workspaceId: string): Promise<ConnectionView[]> {
      const mailchimp = await repo.findConnection(db, workspaceId, 'mailchimp');
      const hubspot = await repo.findConnection(db, workspaceId, 'hubspot');
      return [...(mailchimp ? [mailchimpView(mailchimp)] : []), ...(hubspot ? [hubspotView(hubspot)] : [])];
    },

    /**
     * Creates or replaces the HubSpot connection. The token and every mapped
     * property are checked with HubSpot first; nothing is stored on an error.
     */
    async putHubspot(workspaceId: string, input: HubspotConnectionInput): Promise<HubspotConnectionView> {
      const existing = await repo.findConnection(db, workspaceId, 'hubspot');
      const token = input.token?.trim() ?? (existing ? await secretOf(existing) : undefined);
      const errors: ErrorDetail[] = [];
      if (!token)
        errors.push({
          path: '/token',
          message: 'required when creating the connection (a private app token)',
        });
      for (const [property, attribute] of Object.entries(input.properties)) {
        if (!HUBSPOT_PROPERTY.test(property))
          errors.push({
            path: `/properties/${property}`,
            message: `"${property}" is not a HubSpot internal property name (lower-case letters, digits, _)`,
          });
        if (!ATTRIBUTE_NAME.test(attribute))
          errors.push({
            path: `/properties/${property}`,
            message: `"${attribute}" is not an attribute name`,
          });
      }
      if (errors.length > 0 || !token)
        throw invalid(
          `the HubSpot connection is not valid: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`,
          errors,
        );
      const known = await hubspotClient(token)
        .propertyNames()
        .catch((error: unknown) => configError(error, '/token', '/token'));
      const unknown = Object.keys(input.properties).filter((p) => !known.has(p));
      if (unknown.length > 0)
        throw invalid(
          `HubSpot has no contact property ${unknown.join(', ')}; use the internal names shown in HubSpot's property settings`,
          unknown.map((p) => ({ path: `/properties/${p}`, message: 'no such HubSpot contact property' })),
        );
      const now = clock.now();
      const id = existing?.id ?? uuidv7(now.getTime());
      const settings: HubspotSettings = {
        properties: input.properties,
        push_enabled: input.push_enabled ?? true,
      };
      const row = await repo.saveConnection(db, {
        id,
        workspace_id: workspaceId,
        provider: 'hubspot',
        settings: JSON.stringify(settings),
        secret: await sealCrmSecret(cipher, workspaceId, id, token),
        sync_enabled: input.sync_enabled ?? existing?.sync_enabled ?? true,
        created_at: now,
        updated_at: now,
      });
      return hubspotView(row);
    },

    /**
     * Creates or replaces the workspace's Mailchimp connection. The key, the
     * audience and every mapped merge tag are checked with Mailchimp first, so
     * a saved connection is one that worked; nothing is stored on an error.
     */
    async putMailchimp(
      workspaceId: string,
      input: MailchimpConnectionInput,
    ): Promise<MailchimpConnectionView> {
      const existing = await repo.findConnection(db, workspaceId, 'mailchimp');
      const storedKey = existing ? await secretOf(existing) : undefined;
      const { apiKey, tags, merge } = await checkMailchimpInput(workspaceId, input, storedKey);
      const client = mailchimpClient(apiKey);
      const audienceId = input.audience_id.trim();
      const audience = await client
        .audience(audienceId)
        .catch((error: unknown) => configError(error, '/audience_id'));
      const available = await client
        .mergeFields(audienceId)
        .catch((error: unknown) => configError(error, '/audience_id'));
      const known = new Set(available.map((f) => f.tag));
      const unknown = Object.keys(merge).filter((tag) => !known.has(tag));
      if (unknown.length > 0) {
        throw invalid(
          `audience "${audience.name}" has no merge field ${unknown.join(', ')}; its merge fields are ${[...known].join(', ') || 'none'}`,
          unknown.map((tag) => ({
            path: `/merge_fields/${tag}`,
            message: 'no such merge field in the audience',
          })),
        );
      }
      const now = clock.now();
      const id = existing?.id ?? uuidv7(now.getTime());
      const settings = {
        data_center: dataCenterOf(apiKey),
        audience_id: audience.id,
        audience_name: audience.name,
        list_id: input.list_id,
        merge_fields: merge,
        tags,
      };
      const row = await repo.saveConnection(db, {
        id,
        workspace_id: workspaceId,
        provider: 'mailchimp',
        settings: JSON.stringify(settings),
        secret: await sealCrmSecret(cipher, workspaceId, id, apiKey),
        sync_enabled: input.sync_enabled ?? existing?.sync_enabled ?? true,
        created_at: now,
        updated_at: now,
      });
      return mailchimpView(row);
    },

    /** Connection keys and tokens, for `herald keys rotate-data` (data-keys module's EncryptedValueSource shape). */
    encryptedValues: {
      name: 'crm_connections.secret',
      ...encryptedColumn(db, 'crm_connections', 'secret', crmSecretPurpose),
    },

    async remove(workspaceId: string, provider: CrmProvider): Promise<void> {
      if (!(await repo.deleteConnection(db, workspaceId, provider)))
        await requireConnection(workspaceId, provider);
    },

    /**
     * Starts an import (every member) or a sync (members changed since the
     * last run). While a run is unfinished, asking again returns that run.
     */
    async start(workspaceId: string, provider: CrmProvider, kind: CrmRunKind) {
      const connection = await requireConnection(workspaceId, provider);
      let since: Date | null = null;
      if (kind === 'push' && provider !== 'hubspot') throw new Error('only HubSpot connections push');
      if (kind === 'sync') {
        if (!connection.synced_until) {
          throw new DomainError(
            'CONNECTOR_NOT_READY',
            `the ${provider} connection has not been imported yet: POST /v1/connectors/${provider}/import first; syncs then read only the changes`,
          );
        }
        since = new Date(connection.synced_until.getTime() - SYNC_OVERLAP_MS);
      }
      return enqueueRun(connection, kind, since);
    },

    /** Newest first; none when the workspace has no such connection. */
    async runs(workspaceId: string, provider: CrmProvider, limit: number): Promise<RunView[]> {
      const connection = await repo.findConnection(db, workspaceId, provider);
      if (!connection) return [];
      return (await repo.listRuns(db, workspaceId, connection.id, { limit })).slice(0, limit).map(runView);
    },

    async run(workspaceId: string, id: string): Promise<RunView> {
      const row = await repo.findRun(db, workspaceId, id);
      if (!row)
        throw new DomainError('CONNECTOR_RUN_NOT_FOUND', `run ${id} does not exist in this workspace`);
      return runView(row);
    },

    /** The job: runs (or resumes) one run. Provider errors the user must fix fail the run at once. */
    async execute(payload: CrmRunPayload, signal?: AbortSignal): Promise<void> {
      const run = await repo.findRunForJob(db, payload.runId);
      if (!run || run.workspace_id !== payload.workspaceId) return;
      if (run.status === 'completed' || run.status === 'failed') return;
      const connection = await repo.findConnectionById(db, run.workspace_id, run.connection_id);
      if (!connection) return failRun(run.id, 'the connection was deleted');
      const now = clock.now();
      await repo.updateRun(
        db,
        run.id,
        { status: 'running', ...(run.started_at ? {} : { started_at: now }) },
        now,
      );
      const started: repo.RunRow = { ...run, status: 'running', started_at: run.started_at ?? now };
      try {
        if (connection.provider === 'mailchimp') await runMailchimp(connection, started, signal);
        else if (run.kind === 'push') await runHubspotPush(connection, started, signal);
        else await runHubspotPull(connection, started, signal);
      } catch (error) {
        if (error instanceof ConnectorError && error.kind !== 'unavailable') {
          deps.logger.warn({ run_id: run.id, kind: error.kind }, 'connector run failed');
          return failRun(run.id, error.message);
        }
        // Unavailable (429/5xx past the retries, network): the job retries and resumes at the stored page.
        if (error instanceof Error) await repo.updateRun(db, run.id, { error: error.message }, clock.now());
        throw error;
      }
    },

    /** The job gave up: the run is marked failed with the last error, not left running. */
    async abandon(payload: CrmRunPayload, reason: string): Promise<void> {
      const run = await repo.findRunForJob(db, payload.runId);
      if (run && run.status !== 'completed') await failRun(run.id, reason);
    },

    /** The periodic task: a sync run for every enabled, imported connection without one running. */
    async scheduleSyncs(): Promise<number> {
      let started = 0;
      const due = [
        ...(await repo.connectionsToSync(db, 'mailchimp')),
        ...(await repo.connectionsToSync(db, 'hubspot')),
      ];
      for (const connection of due) {
        const since = new Date((connection.synced_until as Date).getTime() - SYNC_OVERLAP_MS);
        if ((await enqueueRun(connection, 'sync', since)).created) started += 1;
      }
      return started;
    },
  };
}

export type CrmService = ReturnType<typeof createCrmService>;

/**
 * The CCPA rule for pushes: a contact flagged do-not-sell (contacts.do_not_sell,
 * when the contacts module has it) is never sent to a CRM. Reads the flag
 * structurally, so it applies as soon as contacts carry it.
 */
export function shareUnlessDoNotSell(contact: Contact): boolean {
  return contact.do_not_sell !== true;
}

/** Mapped HubSpot properties with a value, as Herald attributes (HubSpot sends every value as text or null). */
function hubspotAttributes(contact: HubspotContact, settings: HubspotSettings): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const [property, attribute] of Object.entries(settings.properties)) {
    const value = contact.properties[property];
    if (value === undefined || value === null || value === '') continue;
    attributes[attribute] = value;
  }
  return attributes;
}

/** Mapped attributes a contact has, as HubSpot property values (text; objects as JSON). */
function hubspotProperties(contact: Contact, settings: HubspotSettings): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const [property, attribute] of Object.entries(settings.properties)) {
    const value = contact.attributes[attribute];
    if (value === undefined || value === null) continue;
    properties[property] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return properties;
}
