import type { Db, EventType } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { decodeCursor, encodeCursor, type Page } from '../../lib/cursor.js';
import { DomainError, type ErrorDetail, isDomainError } from '../../lib/errors.js';
import { isUuid, uuidv7 } from '../../lib/ids.js';
import type { ConsentOrigin } from '../consent/index.js';
import { type ContactService, checkEmail, checkLocale, checkTimezone } from '../contacts/index.js';
import { type NormalizedEvent, normalizeEvent } from './event-payloads.js';
import * as repo from './events.repository.js';

const DAY_MS = 86_400_000;

export interface BatchOutcome {
  success: boolean;
  accepted: number;
  duplicates: number;
  rejected: number;
  errors: { index: number; path: string; message: string }[];
}

export interface EventServiceDeps {
  db: Db;
  clock: Clock;
  contacts: Pick<ContactService, 'upsert' | 'update'>;
  retentionDays: number;
  dedupDays: number;
  /**
   * What of context.ip is stored: the workspace's IP anonymization (tracking settings). Without it
   * the IP is stored as sent.
   */
  ipAnonymizer?: ((workspaceId: string) => Promise<(ip: string) => string | null>) | undefined;
}

export type RecordedEvent = repo.RecordedEvent;

/** A pending event: where it came from in the request, and what is known of its contact. */
interface Pending {
  index: number;
  path: string;
  event: NormalizedEvent;
  contactId: string | null;
}

/**
 * Segment-compatible ingestion. Per request: validate every event (a bad one
 * is reported by index, the rest go on), drop message ids seen before, apply
 * identify calls in order through the contacts service (email normalization,
 * attribute rules), then resolve the remaining events' contacts and store
 * everything in one statement. An event whose sender Herald cannot match to a
 * contact is stored with its userId / anonymousId and attached when an
 * identify names that contact; Herald never creates a contact without an
 * email address.
 */
export function createEventService(deps: EventServiceDeps) {
  const { db, clock, contacts } = deps;
  /** Months known to have a partition, so ingestion creates one only for a month it has not seen. */
  const partitions = new Set<string>();

  async function ensurePartitions(events: { occurredAt: Date }[]): Promise<void> {
    for (const event of events) {
      const month = `${event.occurredAt.toISOString().slice(0, 7)}-01`;
      if (partitions.has(month)) continue;
      await repo.ensurePartition(db, new Date(`${month}T00:00:00Z`));
      partitions.add(month);
    }
  }

  /** Applies one identify: creates or updates the contact, learns the anonymousId, attaches waiting events. */
  async function identify(
    workspaceId: string,
    event: NormalizedEvent,
    known: string | null,
    origin: ConsentOrigin,
  ): Promise<string | null> {
    const traits = event.properties;
    const { email: rawEmail, ...attributes } = traits;
    if (rawEmail !== undefined && rawEmail !== null && typeof rawEmail !== 'string') {
      throw new DomainError('VALIDATION_FAILED', 'traits.email must be a string', [
        { path: '/email', message: 'must be a string' },
      ]);
    }
    let email: string | undefined;
    if (typeof rawEmail === 'string' && rawEmail.trim() !== '') {
      const checked = checkEmail(rawEmail);
      if ('error' in checked) throw new DomainError('INVALID_EMAIL', checked.error.message, [checked.error]);
      email = checked.email;
    }
    if (!email && !known) return null;
    const timezone =
      typeof event.context?.timezone === 'string' ? checkTimezone(event.context.timezone) : undefined;
    const locale = typeof event.context?.locale === 'string' ? checkLocale(event.context.locale) : undefined;
    const ids = { anonymousId: event.anonymousId, userId: event.userId };
    const pending = await repo.pendingTraits(db, workspaceId, ids);
    const write = async (attrs: Record<string, unknown>) => {
      const fields = { attributes: attrs, ...(timezone ? { timezone } : {}), ...(locale ? { locale } : {}) };
      if (email) {
        const { contact } = await contacts.upsert(
          workspaceId,
          { email, ...(event.userId ? { external_id: event.userId } : {}), ...fields },
          origin,
        );
        return contact.id;
      }
      return (await contacts.update(workspaceId, known as string, fields, origin)).id;
    };
    let contactId: string;
    try {
      const earlier = pending.map(({ email: _ignored, ...rest }) => rest);
      contactId = await write(Object.assign({}, ...earlier, attributes));
    } catch (error) {
      // Traits of earlier anonymous calls must not block this one: retry with its own traits only.
      if (pending.length === 0 || !isDomainError(error)) throw error;
      contactId = await write(attributes);
    }
    const now = clock.now();
    if (event.anonymousId) await repo.linkAnonymousId(db, workspaceId, event.anonymousId, contactId, now);
    await repo.attachEvents(db, workspaceId, ids, contactId);
    return contactId;
  }

  /** The context as stored: context.ip anonymized like tracking hits' IPs, or left out when the workspace drops IPs. */
  function storedContext(
    context: Record<string, unknown> | null,
    anonymize: (ip: string) => string | null,
  ): Record<string, unknown> | null {
    if (typeof context?.ip !== 'string') return context;
    const { ip, ...rest } = context;
    const kept = anonymize(ip as string);
    return kept === null ? rest : { ...rest, ip: kept };
  }

  function errorsOf(error: unknown, path: string): ErrorDetail[] {
    if (!isDomainError(error)) throw error;
    const details = error.details?.length ? error.details : [{ message: error.message }];
    return details.map((d) => {
      if (d.path === '/external_id') return { ...d, path: `${path}/userId` };
      return { ...d, path: `${path}/traits${d.path?.replace(/^\/attributes/, '') ?? ''}` };
    });
  }

  return {
    /**
     * Ingests Segment-shaped calls. `type` is the single-call route's type;
     * in a batch each event names its own. Returns per-event errors by index.
     */
    async ingest(
      workspaceId: string,
      raw: unknown[],
      options: {
        origin: ConsentOrigin;
        type?: EventType;
        batch?: { context?: Record<string, unknown> | undefined; sentAt?: string | undefined };
        pathPrefix?: string;
      },
    ): Promise<BatchOutcome> {
      const receivedAt = clock.now();
      const oldestAllowed = new Date(receivedAt.getTime() - deps.retentionDays * DAY_MS);
      const errors: BatchOutcome['errors'] = [];
      const valid: Pending[] = [];
      raw.forEach((item, index) => {
        const path = options.pathPrefix === undefined ? `/batch/${index}` : options.pathPrefix;
        const result = normalizeEvent(item, options.type, {
          receivedAt,
          oldestAllowed,
          retentionDays: deps.retentionDays,
          batch: options.batch,
          path,
        });
        if (result.ok) valid.push({ index, path, event: result.event, contactId: null });
        else for (const e of result.errors) errors.push({ index, path: e.path ?? path, message: e.message });
      });

      // Twice in this request: the first copy counts. Identify calls seen before are skipped before they
      // change contacts; the other events need no look-up: the insert's idempotency stores each once.
      const fresh: Pending[] = [];
      const inRequest = new Set<string>();
      for (const pending of valid) {
        if (inRequest.has(pending.event.messageId)) continue;
        inRequest.add(pending.event.messageId);
        fresh.push(pending);
      }
      const identifyIds = fresh.filter((p) => p.event.type === 'identify').map((p) => p.event.messageId);
      const seen = await repo.seenMessageIds(db, workspaceId, identifyIds);
      let duplicates = valid.length - fresh.length;

      const keysOf = (event: NormalizedEvent): repo.ContactKeys => {
        const emailKeys: string[] = [];
        if (event.userId?.includes('@')) emailKeys.push(event.userId.toLowerCase());
        const traitsEmail = traitsEmailKey(event);
        if (traitsEmail) emailKeys.push(traitsEmail);
        return {
          externalIds: event.userId ? [event.userId] : [],
          emailKeys,
          anonymousIds: event.anonymousId ? [event.anonymousId] : [],
        };
      };
      const contactOf = (event: NormalizedEvent, resolved: repo.ResolvedContacts): string | null => {
        if (event.userId) {
          const found =
            resolved.byExternalId.get(event.userId) ?? resolved.byEmailKey.get(event.userId.toLowerCase());
          if (found) return found;
        }
        const traitsEmail = traitsEmailKey(event);
        const found = traitsEmail ? resolved.byEmailKey.get(traitsEmail) : undefined;
        if (found) return found;
        return (event.anonymousId && resolved.byAnonymousId.get(event.anonymousId)) || null;
      };

      // Identify calls first, in order: they create contacts and aliases the other events then resolve to.
      const failed = new Set<Pending>();
      for (const pending of fresh) {
        if (pending.event.type !== 'identify') continue;
        if (seen.has(pending.event.messageId)) {
          failed.add(pending);
          duplicates++;
          continue;
        }
        const resolved = await repo.resolveContacts(db, workspaceId, keysOf(pending.event));
        try {
          pending.contactId = await identify(
            workspaceId,
            pending.event,
            contactOf(pending.event, resolved),
            options.origin,
          );
        } catch (error) {
          failed.add(pending);
          for (const e of errorsOf(error, pending.path))
            errors.push({ index: pending.index, path: e.path ?? pending.path, message: e.message });
        }
      }

      const toStore = fresh.filter((p) => !failed.has(p));
      await ensurePartitions(toStore.map((p) => p.event));
      const anonymize =
        deps.ipAnonymizer && toStore.some((p) => typeof p.event.context?.ip === 'string')
          ? await deps.ipAnonymizer(workspaceId)
          : undefined;
      const rows = toStore.map(
        (p): repo.EventInsert => ({
          id: uuidv7(receivedAt.getTime()),
          occurredAt: p.event.occurredAt,
          type: p.event.type,
          name: p.event.name,
          contactId: p.contactId,
          userEmailKey: p.event.userId?.includes('@') ? p.event.userId.toLowerCase() : null,
          traitsEmailKey: traitsEmailKey(p.event) ?? null,
          userId: p.event.userId,
          anonymousId: p.event.anonymousId,
          messageId: p.event.messageId,
          properties: p.event.properties,
          context: anonymize ? storedContext(p.event.context, anonymize) : p.event.context,
        }),
      );
      let stored: string[];
      try {
        stored = await repo.insertEvents(db, workspaceId, rows, receivedAt);
      } catch (error) {
        // A partition dropped by another process since this one cached it: create it again, once.
        if (!/no partition of relation/i.test((error as Error).message)) throw error;
        partitions.clear();
        await ensurePartitions(toStore.map((p) => p.event));
        stored = await repo.insertEvents(db, workspaceId, rows, receivedAt);
      }
      // Seen before (or a concurrent retry of the same message stored it first).
      duplicates += rows.length - stored.length;
      errors.sort((a, b) => a.index - b.index);
      const rejected = new Set(errors.map((e) => e.index)).size;
      return { success: rejected === 0, accepted: stored.length, duplicates, rejected, errors };
    },

    /** Creates the partitions for this month and the next `ahead` months; drops months past retention. */
    async maintain(ahead = 2): Promise<{ created: string[]; dropped: string[]; forgotten: number }> {
      const now = clock.now();
      const existing = new Set(await repo.partitionMonths(db));
      const created: string[] = [];
      for (let m = 0; m <= ahead; m++) {
        const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + m, 1));
        const key = month.toISOString().slice(0, 10);
        if (!existing.has(key)) {
          await repo.ensurePartition(db, month);
          created.push(key);
        }
        partitions.add(key);
      }
      // A month goes once all of it is older than the retention period.
      const cutoff = now.getTime() - deps.retentionDays * DAY_MS;
      const dropped: string[] = [];
      for (const month of existing) {
        const start = new Date(`${month}T00:00:00Z`);
        const end = Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1);
        if (end <= cutoff) {
          await repo.dropPartition(db, month);
          partitions.delete(month);
          dropped.push(month);
        }
      }
      const forgetBefore = new Date(now.getTime() - deps.dedupDays * DAY_MS);
      let forgotten = 0;
      for (;;) {
        const n = await repo.forgetMessageIds(db, forgetBefore, 10_000);
        forgotten += n;
        if (n < 10_000) break;
      }
      return { created, dropped, forgotten };
    },

    /** A contact's events, newest first. */
    async listForContact(
      workspaceId: string,
      contactId: string,
      page: { cursor?: string | undefined; limit: number },
    ): Promise<Page<RecordedEvent>> {
      const position = decodeCursor(page.cursor, isEventPosition);
      if (!(await repo.contactExists(db, workspaceId, contactId))) {
        throw new DomainError('CONTACT_NOT_FOUND', `contact ${contactId} does not exist in this workspace`);
      }
      const before = position
        ? {
            at: new Date(position.slice(0, position.indexOf('|'))),
            id: position.slice(position.indexOf('|') + 1),
          }
        : undefined;
      const rows = await repo.contactEvents(db, workspaceId, contactId, { before, limit: page.limit });
      const data = rows.slice(0, page.limit);
      const last = data[data.length - 1];
      return {
        data,
        next_cursor:
          rows.length > page.limit && last
            ? encodeCursor(`${last.occurred_at.toISOString()}|${last.id}`)
            : null,
      };
    },
  };
}

/** The normalized, lower-cased context.traits.email of an event, when it has a valid one. */
function traitsEmailKey(event: NormalizedEvent): string | undefined {
  const raw = (event.context?.traits as { email?: unknown } | undefined)?.email;
  if (typeof raw !== 'string') return undefined;
  const checked = checkEmail(raw);
  return 'email' in checked ? checked.email.toLowerCase() : undefined;
}

function isEventPosition(value: string): boolean {
  const bar = value.indexOf('|');
  return bar > 0 && !Number.isNaN(Date.parse(value.slice(0, bar))) && isUuid(value.slice(bar + 1));
}

export type EventService = ReturnType<typeof createEventService>;
