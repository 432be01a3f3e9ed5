import type { FastifyInstance } from 'fastify';
import { type RawBuilder, sql } from 'kysely';
import type { Container } from '../../src/main/container.js';
import type { SmtpSink } from '../../test/helpers/smtp-sink.js';
import { behaviour, type Message, type Outcome, type SimulatedHit, type WorldContact } from './world.js';

/**
 * Drives a real Herald with a simulated audience: contacts go in by SQL (fast
 * and not under test), campaigns are created, started and sent through the
 * API, the sender and a real SMTP server, and every simulated open and click
 * is requested from Herald's own tracking endpoints, with the tracking URLs
 * taken from the captured messages, at its simulated time (a manual clock).
 * Herald then classifies, counts and decides exactly as it would in production.
 */

export interface ManualClock {
  now(): Date;
  set(to: Date): void;
  advance(ms: number): void;
}

export interface HeraldUnderTest {
  app: FastifyInstance;
  container: Container;
  clock: ManualClock;
  workspaceId: string;
  adminKey: string;
}

/** Per-variant multipliers of the truth: a variant's subject makes people open more, its content click more. */
export interface VariantTruth {
  openMultiplier?: number;
  clickMultiplier?: number;
}

export interface Delivery {
  contact: WorldContact;
  contactId: string;
  variant: number | null;
  deliveredAt: Date;
  outcome: Outcome;
}

export interface CampaignRun {
  campaignId: string;
  deliveries: Delivery[];
  /** Simulated hits requested from Herald, and how many it answered as recorded (200/302). */
  hits: SimulatedHit[];
  answered: number;
}

interface TrackingUrls {
  pixel?: string | undefined;
  link?: string | undefined;
  honeypot?: string | undefined;
}

const STEP_MS = 15 * 60_000;

/** The raw message with quoted-printable undone, enough to find its URLs. */
function decoded(raw: Buffer): string {
  return raw
    .toString('latin1')
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** Tracking paths of one captured message: the pixel, the first real link, the hidden honeypot link. */
export function trackingUrls(raw: Buffer): TrackingUrls {
  const text = decoded(raw);
  const path = (url: string) => new URL(url).pathname;
  const pixel = /<img src="(https?:\/\/[^"]+\/o\/[A-Za-z0-9_-]+)"/.exec(text)?.[1];
  const honeypot = /<a href="(https?:\/\/[^"]+\/c\/[A-Za-z0-9_-]+)" style="display:none/.exec(text)?.[1];
  const link = [...text.matchAll(/<a href="(https?:\/\/[^"]+\/c\/[A-Za-z0-9_-]+)"/g)]
    .map((m) => m[1] as string)
    .find((url) => url !== honeypot);
  return {
    pixel: pixel && path(pixel),
    link: link && path(link),
    honeypot: honeypot && path(honeypot),
  };
}

export function createHarness(herald: HeraldUnderTest, sink: SmtpSink, seed: string) {
  const { app, container, clock } = herald;
  /**
   * Contact ids drawn from the seed and the address rather than at random: Herald's seeded
   * splits and holdouts draw by contact id, so a run replays exactly from its seed.
   */
  const seededUuid = (email: RawBuilder<string>) => sql<string>`(
    WITH h AS (SELECT md5(${seed} || ':' || ${email}) AS x)
    SELECT (substr(x, 1, 12) || '4' || substr(x, 14, 3) || '8' || substr(x, 18, 15))::uuid FROM h)`;
  const db = container.db;
  const auth = { authorization: `Bearer ${herald.adminKey}` };
  const byEmail = new Map<string, { contact: WorldContact; id: string }>();
  const emailByIndex = new Map<number, string>();
  /** Tracking paths by recipient address, from the latest message captured for it. */
  const urls = new Map<string, TrackingUrls>();

  async function api<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PATCH',
    url: string,
    body?: object,
  ) {
    const res = await app.inject({ method, url, headers: auth, ...(body ? { payload: body } : {}) });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json() as T;
  }

  /** Requests one simulated hit at its time; true when Herald answered it as a recorded hit. */
  async function request(hit: SimulatedHit, path: string | undefined): Promise<boolean> {
    if (!path) return false;
    if (hit.at.getTime() > clock.now().getTime()) clock.set(hit.at);
    const res = await app.inject({ method: 'GET', url: path, headers: { 'user-agent': hit.userAgent } });
    return res.statusCode === 200 || res.statusCode === 302;
  }

  const harness = {
    api,

    /** A transport to the sink and a template with one real link; returns the template id. */
    async setup(): Promise<string> {
      await api('POST', '/v1/transports', {
        name: 'Simulation sink',
        type: 'smtp',
        settings: { host: sink.host, port: sink.port, tls: 'none' },
        rate_limit: { per_second: 100_000 },
        max_concurrency: 8,
        is_default: true,
      });
      const template = await api<{ id: string }>('POST', '/v1/templates', {
        name: 'Simulation',
        format: 'html',
        subject: 'News',
        body: '<p>Hello {{ contact.email }}</p><p><a href="https://shop.example/new">New in</a></p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
      });
      return template.id;
    },

    /** Stores the world's contacts (set-based) on a new list; returns the list id. */
    async addContacts(
      world: readonly WorldContact[],
      listName: string,
      createdAt = clock.now(),
    ): Promise<string> {
      const list = await api<{ id: string }>('POST', '/v1/lists', { name: listName, opt_in: 'single' });
      const emails = world.map((c) => c.email);
      await sql`
        INSERT INTO contacts (id, workspace_id, email, created_at, updated_at)
        SELECT ${seededUuid(sql`e`)}, ${herald.workspaceId}, e, ${createdAt}, ${createdAt}
        FROM unnest(${emails}::text[]) AS e
        ON CONFLICT DO NOTHING`.execute(db);
      const known = await sql<{ id: string; email: string }>`
        SELECT id, email FROM contacts WHERE workspace_id = ${herald.workspaceId} AND email = ANY(${emails}::text[])`.execute(
        db,
      );
      const contacts = new Map(world.map((c) => [c.email, c]));
      for (const row of known.rows) {
        const contact = contacts.get(row.email);
        if (!contact) continue;
        byEmail.set(row.email, { contact, id: row.id });
        emailByIndex.set(contact.index, contact.email);
      }
      await sql`
        INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
        SELECT ${herald.workspaceId}, ${list.id}, id, 'confirmed', ${createdAt}, ${createdAt}
        FROM unnest(${known.rows.map((r) => r.id)}::uuid[]) AS id
        ON CONFLICT DO NOTHING`.execute(db);
      return list.id;
    },

    contactId(contact: WorldContact): string | undefined {
      return byEmail.get(contact.email)?.id;
    },

    /**
     * Creates and starts a campaign, then runs the world forward in 15-minute
     * steps: the sender sends what is due, every new delivery gets its
     * simulated behaviour, and the hits due before the next step are
     * requested in time order. Stops when the campaign has nothing left to
     * send (sent, or testing: an A/B test waiting for its window) and every
     * hit of its deliveries has been requested.
     */
    async runCampaign(
      body: Record<string, unknown>,
      truth: VariantTruth[] = [],
      options: { maxHours?: number } = {},
    ): Promise<CampaignRun> {
      const campaign = await api<{ id: string }>('POST', '/v1/campaigns', body);
      await api('POST', `/v1/campaigns/${campaign.id}/send`);
      return harness.continueCampaign(campaign.id, truth, options);
    },

    /** Runs an already started campaign forward (see runCampaign), e.g. its A/B remainder. */
    async continueCampaign(
      campaignId: string,
      truth: VariantTruth[] = [],
      options: { maxHours?: number } = {},
    ): Promise<CampaignRun> {
      const [run] = await harness.continueCampaigns([campaignId], truth, options);
      return run as CampaignRun;
    },

    /**
     * Runs several started campaigns forward together, in the same simulated
     * time (see runCampaign): until none has anything left to send and every
     * hit of their deliveries has been requested.
     */
    async continueCampaigns(
      campaignIds: string[],
      truth: VariantTruth[] = [],
      options: { maxHours?: number } = {},
    ): Promise<CampaignRun[]> {
      const runs = new Map(
        campaignIds.map((id) => [
          id,
          { campaignId: id, deliveries: [] as Delivery[], hits: [] as SimulatedHit[], answered: 0 },
        ]),
      );
      // Behaviour is keyed by campaign name, not id: ids are random, and a run must replay from its seed.
      const named = await sql<{ id: string; name: string }>`
        SELECT id, name FROM campaigns WHERE id = ANY(${campaignIds}::uuid[])`.execute(db);
      const nameOf = new Map(named.rows.map((r) => [r.id, r.name]));
      const pending: (SimulatedHit & { campaignId: string })[] = [];
      const end = clock.now().getTime() + (options.maxHours ?? 48) * 3_600_000;
      // Captured raw messages are only needed until their URLs are read: the sink is emptied as it goes.
      sink.messages.length = 0;
      for (;;) {
        const stepStart = clock.now();
        await container.sender.drain();
        const fresh = sink.messages.splice(0, sink.messages.length);
        if (fresh.length > 0) {
          for (const message of fresh) urls.set(message.to[0] as string, trackingUrls(message.raw));
          const sent = await sql<{
            campaign_id: string;
            contact_id: string;
            variant: number | null;
            email: string;
          }>`
            SELECT s.campaign_id, s.contact_id, s.variant, c.email FROM campaign_sends s JOIN contacts c ON c.id = s.contact_id
            WHERE s.campaign_id = ANY(${campaignIds}::uuid[]) AND s.status = 'sent' AND s.finished_at >= ${stepStart}
            ORDER BY c.email COLLATE "C", s.campaign_id`.execute(db);
          for (const row of sent.rows) {
            const known = byEmail.get(row.email);
            const run = runs.get(row.campaign_id);
            if (!known || !run) continue;
            const variant = row.variant === null ? undefined : truth[row.variant];
            const message: Message = {
              contact: known.contact,
              deliveredAt: clock.now(),
              openMultiplier: variant?.openMultiplier ?? 1,
              clickMultiplier: variant?.clickMultiplier ?? 1,
              key: nameOf.get(row.campaign_id) ?? row.campaign_id,
            };
            const outcome = behaviour(seed, message);
            run.deliveries.push({
              contact: known.contact,
              contactId: row.contact_id,
              variant: row.variant,
              deliveredAt: message.deliveredAt,
              outcome,
            });
            pending.push(...outcome.hits.map((hit) => ({ ...hit, campaignId: row.campaign_id })));
          }
          pending.sort((a, b) => a.at.getTime() - b.at.getTime());
        }
        const stepEnd = stepStart.getTime() + STEP_MS;
        while (pending.length > 0 && (pending[0] as SimulatedHit).at.getTime() < stepEnd) {
          const { campaignId, ...hit } = pending.shift() as SimulatedHit & { campaignId: string };
          const run = runs.get(campaignId);
          run?.hits.push(hit);
          const email = emailByIndex.get(hit.contactIndex);
          const target = email ? urls.get(email) : undefined;
          if ((await request(hit, target?.[hit.target])) && run) run.answered++;
        }
        clock.set(new Date(stepEnd));
        let sending = false;
        for (const id of campaignIds) {
          // Read through the service: polling the API every step would run into its per-key rate limit.
          const { status } = await container.campaigns.get(herald.workspaceId, id);
          if (status === 'sending' || status === 'paused') sending = true;
        }
        if ((!sending && pending.length === 0) || clock.now().getTime() > end) break;
      }
      await container.tracking.flush();
      return campaignIds.map((id) => runs.get(id) as CampaignRun);
    },

    /** Counts every recorded hit in the analytics rollup (as the workers would, without their settle time). */
    async settle(): Promise<void> {
      await container.tracking.flush();
      await container.analyticsRollup.catchUp();
    },
  };
  return harness;
}

export type Harness = ReturnType<typeof createHarness>;
