import { sql } from 'kysely';
import type { Db } from '../../src/db/index.js';
import { uuidv7 } from '../../src/lib/ids.js';
import type { Condition } from '../../src/modules/segments/segment-definition.js';
import type { World, WorldContact } from './segment-evaluator.js';

/**
 * A deterministic, deliberately messy data set for segment tests: attributes
 * of every JSON type (and of the wrong type), nested objects and arrays,
 * dates in Herald's forms and malformed ones, Unicode and quote characters,
 * events with and without contacts, sends, hits and conversions over four
 * months, written both to the database and to an in-memory World.
 */

/** mulberry32: a small seeded PRNG, so the world is the same on every run and database. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const NOW = new Date('2026-03-15T12:00:00.000Z');
const DAY = 86_400_000;

export interface SeededWorld extends World {
  lists: string[];
  campaigns: string[];
  segmentIds: string[];
}

export async function seedWorld(
  db: Db,
  workspaceId: string,
  options: { seed?: number; contacts?: number; noiseWorkspaceId?: string } = {},
): Promise<SeededWorld> {
  const random = prng(options.seed ?? 42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const chance = (p: number) => random() < p;
  const ago = (maxDays: number) => new Date(NOW.getTime() - Math.floor(random() * maxDays * DAY) - 1000);

  const lists = [uuidv7(), uuidv7(), uuidv7()];
  const campaigns = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
  for (const [i, id] of lists.entries()) {
    await sql`INSERT INTO lists (id, workspace_id, name, opt_in, visibility, created_at, updated_at)
      VALUES (${id}, ${workspaceId}, ${`List ${i}`}, 'single', 'private', ${NOW}, ${NOW})`.execute(db);
  }
  for (const [i, id] of campaigns.entries()) {
    await sql`INSERT INTO campaigns (id, workspace_id, name, status, created_at, updated_at)
      VALUES (${id}, ${workspaceId}, ${`Campaign ${i}`}, 'sent', ${NOW}, ${NOW})`.execute(db);
  }

  const names = ['Ann', 'ÄRGER', 'ärger', 'Zoë', "O'Brien", "x' OR '1'='1", '%_\\', '"quoted"', 'Bo'];
  const contacts: WorldContact[] = [];
  const count = options.contacts ?? 48;
  for (let i = 0; i < count; i++) {
    const attributes: Record<string, unknown> = {};
    if (chance(0.8)) attributes.plan = pick(['pro', 'free', 'Pro', 'enterprise', 'pro ']);
    if (chance(0.7)) attributes.age = pick([18, 25, 41, 41.5, 60, 90, -3, '41', 0]);
    if (chance(0.5)) attributes.score = pick([0, 1, 10, 99.5, null]);
    if (chance(0.7))
      attributes.signup = pick([
        '2025-03-01',
        '2025-03-16',
        '2024-03-16',
        '2026-03-10T08:30:00.000Z',
        '2026-02-20',
        '2025-13-40',
        '01/02/2025',
        '2026-03-15T11:00:00.000Z',
        '2028-02-29',
        '2024-02-29',
      ]);
    if (chance(0.5)) attributes.flag = pick([true, false, 'true']);
    if (chance(0.6))
      attributes.address = {
        city: pick(['Berlin', 'berlin', 'Paris', 'BERLIN-Mitte']),
        zip: pick(['10115', 10115]),
      };
    if (chance(0.5)) attributes.interests = pick([['a', 'b'], ['b'], [1, 2], [], ['A']]);
    if (chance(0.5))
      attributes.items = [
        { sku: pick(['A1', 'B2']), price: pick([10, 20.5]) },
        { sku: 'C3', price: 5 },
      ];
    if (chance(0.6)) attributes.name = pick(names);
    if (chance(0.2)) attributes['weird.key'] = pick(['dot', 'x']);
    const contact: WorldContact = {
      id: uuidv7(NOW.getTime() - 10_000_000 + i),
      email: `${pick(['ann', 'Bo.Lee', 'cy', 'dee'])}${i}@${pick(['example.com', 'gmail.com', 'shop.example', 'a.b.example.com'])}`,
      status: pick(['active', 'active', 'active', 'unsubscribed', 'bounced', 'blocked']),
      attributes,
      tags: [...new Set([pick(['vip', 'beta', 'VIP', 'new']), ...(chance(0.3) ? ['beta'] : [])])]
        .filter(() => chance(0.8))
        .sort(),
      timezone: chance(0.6) ? pick(['Europe/Berlin', 'America/New_York', 'Asia/Tokyo']) : null,
      locale: chance(0.5) ? pick(['de-DE', 'en-US', 'fr']) : null,
      external_id: chance(0.5) ? `u-${i}` : null,
      created_at: pick([
        ago(800),
        ago(40),
        new Date('2025-03-16T09:00:00.000Z'),
        new Date('2024-03-16T23:59:59.000Z'),
      ]),
    };
    contacts.push(contact);
  }
  for (const c of contacts) {
    await sql`INSERT INTO contacts (id, workspace_id, email, external_id, status, attributes, tags, timezone, locale,
                                    created_at, updated_at)
      VALUES (${c.id}, ${workspaceId}, ${c.email}, ${c.external_id}, ${c.status}, ${JSON.stringify(c.attributes)}::jsonb,
              ${c.tags}::text[], ${c.timezone}, ${c.locale}, ${c.created_at}, ${c.created_at})`.execute(db);
  }

  const memberships: World['memberships'] = [];
  for (const c of contacts) {
    for (const list of lists) {
      if (!chance(0.45)) continue;
      const status = pick(['confirmed', 'unconfirmed', 'unsubscribed']);
      memberships.push({ list_id: list, contact_id: c.id, status });
      await sql`INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
        VALUES (${workspaceId}, ${list}, ${c.id}, ${status}, ${NOW}, ${NOW})`.execute(db);
    }
  }

  const events: World['events'] = [];
  for (let i = 0; i < 260; i++) {
    const contact = chance(0.9) ? pick(contacts).id : null;
    const type = chance(0.85) ? 'track' : 'page';
    const properties: Record<string, unknown> = {};
    if (chance(0.8)) properties.total = pick([5, 49.9, 100, 250, '100']);
    if (chance(0.5)) properties.currency = pick(['EUR', 'USD']);
    if (chance(0.5)) properties.items = [{ sku: pick(['A1', 'B2', 'C3']), price: pick([10, 20]) }];
    if (chance(0.3)) properties.coupon = pick(['SPRING', null, 'spring-sale']);
    if (chance(0.2)) properties['weird key'] = { 'a/b': pick([1, 2]) };
    if (chance(0.2)) properties.when = pick(['2026-03-01', '2026-01-01T00:00:00.000Z', 'soon']);
    events.push({
      contact_id: contact,
      type,
      name: pick(['Order Completed', 'Viewed Product', 'Signed Up', 'segment.entered']),
      occurred_at: ago(120),
      properties,
    });
  }
  await insertEvents(db, workspaceId, events);
  if (options.noiseWorkspaceId) {
    // Another workspace's events naming this workspace's contacts must never count.
    await insertEvents(
      db,
      options.noiseWorkspaceId,
      contacts.map((c) => ({
        contact_id: c.id,
        type: 'track',
        name: 'Order Completed',
        occurred_at: ago(5),
        properties: { total: 100 },
      })),
    );
  }

  const sends: World['sends'] = [];
  for (const c of contacts) {
    for (const campaign of campaigns) {
      if (!chance(0.4)) continue;
      const status = pick(['sent', 'sent', 'sent', 'failed', 'queued', 'skipped']);
      const error =
        status === 'failed'
          ? pick([
              'permanent transport error (550)',
              'temporary transport error (451)',
              'connection transport error',
              'boom',
            ])
          : null;
      const finishedAt = status === 'queued' ? null : ago(100);
      sends.push({ campaign_id: campaign, contact_id: c.id, status, error, finished_at: finishedAt });
      await sql`INSERT INTO campaign_sends (campaign_id, contact_id, workspace_id, message_id, status, error, created_at, finished_at)
        VALUES (${campaign}, ${c.id}, ${workspaceId}, ${`${uuidv7()}@example.com`}, ${status}, ${error}, ${NOW}, ${finishedAt})`.execute(
        db,
      );
    }
  }

  const hits: World['hits'] = [];
  for (let i = 0; i < 120; i++) {
    const hit = {
      campaign_id: chance(0.9) ? pick(campaigns) : null,
      contact_id: pick(contacts).id,
      kind: pick(['open', 'open', 'click']),
      occurred_at: ago(120),
      classification: pick(['human', 'proxy', 'prefetch', 'scanner', 'bot']),
    };
    hits.push(hit);
    await sql`INSERT INTO tracking_hits (id, workspace_id, campaign_id, contact_id, message_id, kind, occurred_at, classification)
      VALUES (${uuidv7()}, ${workspaceId}, ${hit.campaign_id}, ${hit.contact_id}, ${uuidv7()}, ${hit.kind}, ${hit.occurred_at},
              ${hit.classification})`.execute(db);
  }

  const conversions: World['conversions'] = [];
  for (let i = 0; i < 50; i++) {
    const currency = chance(0.85) ? pick(['EUR', 'USD']) : null;
    const row = {
      contact_id: chance(0.9) ? pick(contacts).id : null,
      event: chance(0.8) ? pick(['purchase', 'signup']) : null,
      currency,
      revenue: currency ? pick(['10.00', '49.900000', '100', '0.000001', '-5.50', '250.25']) : null,
      occurred_at: ago(120),
    };
    conversions.push(row);
    await sql`INSERT INTO conversions (id, workspace_id, contact_id, attribution, event, revenue, currency, occurred_at, created_at)
      VALUES (${uuidv7()}, ${workspaceId}, ${row.contact_id}, 'none', ${row.event}, ${row.revenue}::numeric, ${row.currency},
              ${row.occurred_at}, ${NOW})`.execute(db);
  }

  // Engagement results, from a generator of their own so the rows above stay what they were.
  const engagementRandom = prng((options.seed ?? 42) + 1);
  const engagementPick = <T>(items: readonly T[]): T =>
    items[Math.floor(engagementRandom() * items.length)] as T;
  const engagement: World['engagement'] = [];
  for (const c of contacts) {
    if (engagementRandom() < 0.25) continue;
    const row = {
      contact_id: c.id,
      score: engagementPick([0, 0.5, 1, 2.75, 10, 31.4]),
      p_open: engagementPick([null, 0, 0.05, 0.1, 0.3, 0.3000001, 0.75, 1]),
      p_click: engagementPick([null, 0, 0.02, 0.1, 0.3, 0.5]),
      last_engaged_at: engagementPick([
        null,
        NOW,
        new Date(NOW.getTime() - 10 * DAY),
        new Date(NOW.getTime() - 60 * DAY),
        new Date(NOW.getTime() - 60 * DAY - 1),
        new Date(NOW.getTime() - 120 * DAY),
        new Date(NOW.getTime() - 180 * DAY),
        new Date(NOW.getTime() - 181 * DAY),
      ]),
    };
    engagement.push(row);
    await sql`INSERT INTO contact_engagement (workspace_id, contact_id, score, p_open, p_click, last_engaged_at,
        opens_30d, opens_90d, clicks_30d, clicks_90d, received_30d, received_90d, conversions_365d, computed_at)
      VALUES (${workspaceId}, ${c.id}, ${row.score}, ${row.p_open}, ${row.p_click}, ${row.last_engaged_at},
        0, 0, 0, 0, 0, 0, 0, ${NOW})`.execute(db);
  }
  if (options.noiseWorkspaceId) {
    // Another workspace's row for a contact of this one cannot exist (foreign keys): its own contact's row must not count.
    const other = uuidv7();
    await sql`INSERT INTO contacts (id, workspace_id, email, created_at, updated_at)
      VALUES (${other}, ${options.noiseWorkspaceId}, 'noise@example.com', ${NOW}, ${NOW})`.execute(db);
    await sql`INSERT INTO contact_engagement (workspace_id, contact_id, score, p_open, p_click, last_engaged_at,
        opens_30d, opens_90d, clicks_30d, clicks_90d, received_30d, received_90d, conversions_365d, computed_at)
      VALUES (${options.noiseWorkspaceId}, ${other}, 99, 0.05, 0.9, ${NOW}, 0, 0, 0, 0, 0, 0, 0, ${NOW})`.execute(
      db,
    );
  }

  const segmentIds = [uuidv7(), uuidv7()];
  const segments = new Map<string, Condition>([
    [segmentIds[0] as string, { attribute: 'plan', operator: 'equals', value: 'pro' }],
    [
      segmentIds[1] as string,
      { any: [{ segment: segmentIds[0] as string }, { field: 'tags', operator: 'contains', value: 'vip' }] },
    ],
  ]);
  return {
    contacts,
    memberships,
    events,
    sends,
    hits,
    conversions,
    engagement,
    segments,
    lists,
    campaigns,
    segmentIds,
  };
}

async function insertEvents(db: Db, workspaceId: string, events: World['events']): Promise<void> {
  for (const month of new Set(events.map((e) => `${e.occurred_at.toISOString().slice(0, 7)}-01`))) {
    await sql`SELECT herald_events_partition(${month}::date)`.execute(db);
  }
  for (const e of events) {
    await sql`INSERT INTO events (id, workspace_id, occurred_at, received_at, type, name, contact_id, message_id, properties)
      VALUES (${uuidv7()}, ${workspaceId}, ${e.occurred_at}, ${NOW}, ${e.type}, ${e.name}, ${e.contact_id},
              ${uuidv7()}, ${JSON.stringify(e.properties)}::jsonb)`.execute(db);
  }
}
