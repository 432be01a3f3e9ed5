import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimRecipients, recordResults } from '../../src/modules/campaigns/sends.repository.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * The send ledger's guarantees, below the sending loop: claims partition the
 * audience, an expired claim is re-sent with its Message-ID, and outcomes
 * count once.
 */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

/** A campaign over a fresh single opt-in list of `size` contacts, inserted set-based. */
async function campaignOf(size: number, name: string): Promise<string> {
  const list = await t.container.lists.create(t.workspaceId, { name, opt_in: 'single' });
  const now = t.clock.now();
  await sql`
    INSERT INTO contacts (id, workspace_id, email, attributes, created_at, updated_at)
    SELECT gen_random_uuid(), ${t.workspaceId}, ${name} || '-' || i || '@example.com', '{}'::jsonb, ${now}, ${now}
    FROM generate_series(1, ${size}) AS i`.execute(t.container.db);
  await sql`
    INSERT INTO list_memberships (workspace_id, list_id, contact_id, status, created_at, updated_at)
    SELECT ${t.workspaceId}, ${list.id}, id, 'confirmed', ${now}, ${now}
    FROM contacts WHERE email LIKE ${`${name}-%`}`.execute(t.container.db);
  const campaign = await t.container.campaigns.create(t.workspaceId, { name, lists: [list.id] });
  // Claims are only handed out while a campaign is sending; this test works below the send action.
  await setCampaign(campaign.id, { status: 'sending' });
  return campaign.id;
}

async function setCampaign(
  campaignId: string,
  changes: { status?: 'sending' | 'paused'; rate_limit_per_second?: number },
) {
  await t.container.db.updateTable('campaigns').set(changes).where('id', '=', campaignId).execute();
}

function claimer(campaignId: string, workerId: string, limit = 50, leaseMs = 60_000) {
  const now = t.clock.now();
  return claimRecipients(t.container.db, {
    workspaceId: t.workspaceId,
    campaignId,
    workerId,
    limit,
    now,
    leaseUntil: new Date(now.getTime() + leaseMs),
    messageIdDomain: 'mail.example.com',
  });
}

describe('campaign send ledger', () => {
  it('hands out every recipient of the audience exactly once, then reports it exhausted', async () => {
    const campaignId = await campaignOf(230, 'partition');
    const seen: string[] = [];
    let exhausted = false;
    while (!exhausted) {
      const batch = await claimer(campaignId, 'w1');
      seen.push(...batch.recipients.map((r) => r.contact_id));
      exhausted = batch.exhausted;
    }
    expect(seen).toHaveLength(230);
    expect(new Set(seen).size).toBe(230);
    const audience = await t.container.campaigns.audience(t.workspaceId, campaignId, { limit: 1000 });
    expect(new Set(seen)).toEqual(new Set(audience.data.map((c) => c.id)));
    expect((await claimer(campaignId, 'w1')).recipients).toEqual([]);
  });

  it('lets concurrent claimers share a campaign without overlap', async () => {
    const campaignId = await campaignOf(1000, 'shared');
    const byWorker = new Map<string, string[]>();
    await Promise.all(
      ['a', 'b', 'c'].map(async (worker) => {
        const mine: string[] = [];
        for (;;) {
          const batch = await claimer(campaignId, worker, 37);
          mine.push(...batch.recipients.map((r) => r.contact_id));
          if (batch.recipients.length === 0 && batch.exhausted) break;
        }
        byWorker.set(worker, mine);
      }),
    );
    const all = [...byWorker.values()].flat();
    expect(all).toHaveLength(1000);
    expect(new Set(all).size).toBe(1000);
  });

  it('re-sends an expired claim with the same Message-ID, and skips nothing', async () => {
    const campaignId = await campaignOf(10, 'crash');
    const first = await claimer(campaignId, 'crashed', 10, 30_000);
    expect(first.recipients).toHaveLength(10);
    expect(first.recipients[0]?.message_id).toMatch(/^[0-9a-f-]{36}@mail\.example\.com$/);
    // The lease still holds: nobody else gets these rows.
    expect((await claimer(campaignId, 'other', 10)).recipients).toEqual([]);
    t.clock.advance(31_000);
    const again = await claimer(campaignId, 'other', 10);
    expect(again.recipients.map((r) => r.contact_id)).toEqual(first.recipients.map((r) => r.contact_id));
    expect(again.recipients.map((r) => r.message_id)).toEqual(first.recipients.map((r) => r.message_id));
    expect(again.recipients.every((r) => r.attempts === 2)).toBe(true);
  });

  it('counts each outcome once even when two workers report the same recipient', async () => {
    const campaignId = await campaignOf(4, 'outcomes');
    const { recipients } = await claimer(campaignId, 'w', 4);
    const [a, b, c, d] = recipients.map((r) => r.contact_id) as [string, string, string, string];
    const now = t.clock.now();
    expect(
      await recordResults(
        t.container.db,
        campaignId,
        [
          { contactId: a, outcome: 'sent', providerMessageId: 'p-1' },
          { contactId: b, outcome: 'sent', providerMessageId: 'p-2' },
          { contactId: c, outcome: 'failed', error: '550 no such user' },
        ],
        now,
      ),
    ).toEqual({ sent: 2, failed: 1, skipped: 0 });
    expect(
      await recordResults(
        t.container.db,
        campaignId,
        [
          { contactId: a, outcome: 'sent' },
          { contactId: d, outcome: 'sent' },
        ],
        now,
      ),
    ).toEqual({ sent: 1, failed: 0, skipped: 0 });
    const campaign = await t.container.campaigns.get(t.workspaceId, campaignId);
    expect(campaign.progress).toMatchObject({ sent: 3, failed: 1 });
  });

  it('leaves out contacts who unsubscribe before they are claimed', async () => {
    const campaignId = await campaignOf(20, 'late-unsub');
    const firstHalf = await claimer(campaignId, 'w', 10);
    const later = await t.container.db
      .selectFrom('contacts')
      .select('id')
      .where('email', 'like', 'late-unsub-%')
      .where(
        'id',
        'not in',
        firstHalf.recipients.map((r) => r.contact_id),
      )
      .orderBy('id')
      .executeTakeFirstOrThrow();
    await t.container.contacts.update(t.workspaceId, later.id, { status: 'unsubscribed' }, { source: 'api' });
    const rest = await claimer(campaignId, 'w', 100);
    expect(rest.recipients).toHaveLength(9);
    expect(rest.recipients.map((r) => r.contact_id)).not.toContain(later.id);
  });

  it('hands out nothing once the campaign is paused, and again after it resumes', async () => {
    const campaignId = await campaignOf(30, 'pause');
    expect((await claimer(campaignId, 'w', 10)).recipients).toHaveLength(10);
    await setCampaign(campaignId, { status: 'paused' });
    const paused = await claimer(campaignId, 'w', 10);
    expect(paused).toMatchObject({ recipients: [], stopped: true });
    await setCampaign(campaignId, { status: 'sending' });
    expect((await claimer(campaignId, 'w', 10)).recipients).toHaveLength(10);
  });

  it('keeps to the campaign rate limit across workers: per one-second window, whoever claims', async () => {
    const campaignId = await campaignOf(100, 'rated');
    await setCampaign(campaignId, { rate_limit_per_second: 25 });
    t.clock.set(new Date(Math.ceil(t.clock.now().getTime() / 1000) * 1000 + 100));
    const a = await claimer(campaignId, 'a', 20);
    const b = await claimer(campaignId, 'b', 20);
    const c = await claimer(campaignId, 'c', 20);
    expect(a.recipients).toHaveLength(20);
    expect(b.recipients).toHaveLength(5);
    expect(c.recipients).toEqual([]);
    expect(c.throttledUntil?.getTime()).toBe(Math.floor(t.clock.now().getTime() / 1000) * 1000 + 1000);
    t.clock.advance(950);
    const next = await claimer(campaignId, 'c', 40);
    expect(next.recipients).toHaveLength(25);
    expect(next.throttledUntil).toBeUndefined();
  });
});
