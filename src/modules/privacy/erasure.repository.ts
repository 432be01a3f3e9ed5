import { sql } from 'kysely';
import type { Db } from '../../db/index.js';

/**
 * Erasure: the SQL that deletes one person's personal data from every table
 * that holds it. This is the one place that knows where personal data lives;
 * a module that adds a table with a contact id, an address or message text
 * adds one step here (one line in ERASURE_STEPS), and the erasure test's scan
 * of every text column fails until it does.
 *
 * It writes other modules' tables directly, set-based, in the caller's
 * transaction: an erasure must be all or nothing, and going through a dozen
 * services row by row would not be one transaction.
 */

/** Who is erased. `emailKey` is the address as contacts.email_key stores it (lower case). */
export interface ErasureTarget {
  workspaceId: string;
  /** Absent when only the address is known (no contact row, e.g. a bounce of an address never imported). */
  contactId: string | null;
  externalId: string | null;
  emailKey: string;
}

export interface ErasureStep {
  /** The receipt's name for what the step deletes (or anonymizes). */
  kind: string;
  run(trx: Db, target: ErasureTarget): Promise<number>;
}

const NO_CONTACT = '00000000-0000-0000-0000-000000000000';

function contactOf(target: ErasureTarget): string {
  return target.contactId ?? NO_CONTACT;
}

/** A step for a table whose rows are the contact's by contact_id: the common case, one line each. */
function byContact(table: string): ErasureStep {
  return {
    kind: table,
    run: (trx, t) =>
      rawCount(
        trx,
        sql`DELETE FROM ${sql.table(table)} WHERE workspace_id = ${t.workspaceId} AND contact_id = ${contactOf(t)}`,
      ),
  };
}

/** A step for a table keyed by the address (email_key, lower case). */
function byEmailKey(table: string, column = 'email_key'): ErasureStep {
  return {
    kind: table,
    run: (trx, t) =>
      rawCount(
        trx,
        sql`DELETE FROM ${sql.table(table)} WHERE workspace_id = ${t.workspaceId} AND ${sql.ref(column)} = ${t.emailKey}`,
      ),
  };
}

async function rawCount(trx: Db, query: ReturnType<typeof sql>): Promise<number> {
  const result = await query.execute(trx);
  return Number(result.numAffectedRows ?? 0n);
}

/** Text that holds the address anywhere (JSON payloads, error messages), any case. */
function mentions(column: ReturnType<typeof sql>, emailKey: string) {
  return sql<boolean>`position(${emailKey} in lower(${column})) > 0`;
}

/**
 * The steps, in order: rows found through the contact's anonymous ids go
 * before the ids themselves, everything referencing the contact before the
 * contact row, and the contact row last.
 */
export const ERASURE_STEPS: ErasureStep[] = [
  {
    // Attached events, events under the contact's user id, and anonymous events of its anonymous ids (all partitions).
    kind: 'events',
    run: (trx, t) =>
      rawCount(
        trx,
        sql`DELETE FROM events e
            WHERE e.workspace_id = ${t.workspaceId}
              AND (e.contact_id = ${contactOf(t)}
                OR (${t.externalId}::text IS NOT NULL AND e.user_id = ${t.externalId})
                OR e.anonymous_id IN (SELECT a.anonymous_id FROM anonymous_ids a
                                      WHERE a.workspace_id = ${t.workspaceId} AND a.contact_id = ${contactOf(t)}))`,
      ),
  },
  byContact('anonymous_ids'),
  byContact('tracking_hits'),
  // Outbound webhook events carry the address in their payload; their deliveries go with them (cascade).
  byContact('webhook_events'),
  {
    // Revenue stays (reports count it); who converted and through which click goes.
    kind: 'conversions_anonymized',
    run: (trx, t) =>
      rawCount(
        trx,
        sql`UPDATE conversions SET contact_id = NULL, click_id = NULL
            WHERE workspace_id = ${t.workspaceId} AND contact_id = ${contactOf(t)}`,
      ),
  },
  // The send ledger's rows (rollups already counted them and keep their totals).
  byContact('campaign_sends'),
  {
    // Transactional and automation emails: recipient, rendered data, provider ids.
    kind: 'messages',
    run: (trx, t) =>
      rawCount(
        trx,
        sql`DELETE FROM messages WHERE workspace_id = ${t.workspaceId}
              AND (contact_id = ${contactOf(t)} OR lower(to_email) = ${t.emailKey})`,
      ),
  },
  byContact('automation_bandit_assignments'),
  {
    kind: 'automation_step_executions',
    run: (trx, t) =>
      rawCount(
        trx,
        sql`DELETE FROM automation_step_executions s USING automation_runs r
            WHERE s.run_id = r.id AND r.workspace_id = ${t.workspaceId} AND r.contact_id = ${contactOf(t)}`,
      ),
  },
  byContact('automation_runs'),
  byContact('analytics_recipients'),
  byContact('analytics_link_recipients'),
  byContact('segment_members'),
  byContact('contact_engagement'),
  // Evidence of consent is personal data too: an erasure request outranks keeping it.
  byContact('consent_records'),
  byContact('list_memberships'),
  {
    // Bounce and complaint events keep the recipient and the diagnostic text (raw reports are never stored).
    kind: 'bounce_events',
    run: (trx, t) =>
      rawCount(
        trx,
        sql`DELETE FROM bounce_events WHERE workspace_id = ${t.workspaceId}
              AND (contact_id = ${contactOf(t)} OR recipient_key = ${t.emailKey})`,
      ),
  },
  byEmailKey('suppression_removals'),
  // The plain-address entry; the service writes the HMAC entry in its place.
  byEmailKey('suppressions'),
  {
    // Queued or finished jobs whose payload names the contact or the address (sends, confirmations, webhooks).
    kind: 'jobs',
    run: (trx, t) =>
      rawCount(
        trx,
        sql`DELETE FROM jobs WHERE workspace_id = ${t.workspaceId}
              AND (${mentions(sql`payload::text`, t.emailKey)}
                OR ${mentions(sql`payload::text`, t.contactId ?? t.emailKey)})`,
      ),
  },
  {
    // An import's report lines that quote the address (errors, hygiene warnings and their suggestions).
    kind: 'import_reports',
    run: async (trx, t) => {
      const errors = await rawCount(
        trx,
        sql`DELETE FROM import_errors e USING imports i
            WHERE e.import_id = i.id AND i.workspace_id = ${t.workspaceId} AND ${mentions(sql`e.reason`, t.emailKey)}`,
      );
      const warnings = await rawCount(
        trx,
        sql`DELETE FROM import_warnings w USING imports i
            WHERE w.import_id = i.id AND i.workspace_id = ${t.workspaceId}
              AND (${mentions(sql`w.message`, t.emailKey)} OR ${mentions(sql`coalesce(w.suggestion, '')`, t.emailKey)})`,
      );
      return errors + warnings;
    },
  },
  {
    // Uploaded files of imports not run yet: such a file goes whole, it cannot be edited in place.
    kind: 'import_files',
    run: (trx, t) =>
      rawCount(
        trx,
        sql`DELETE FROM import_chunks c USING imports i
            WHERE c.import_id = i.id AND i.workspace_id = ${t.workspaceId}
              AND ${mentions(sql`encode(c.data, 'escape')`, t.emailKey)}`,
      ),
  },
  {
    kind: 'contacts',
    run: (trx, t) =>
      rawCount(trx, sql`DELETE FROM contacts WHERE workspace_id = ${t.workspaceId} AND id = ${contactOf(t)}`),
  },
];

/** Runs every step in the caller's transaction; the counts per kind, zeros included. */
export async function eraseEverywhere(trx: Db, target: ErasureTarget): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const step of ERASURE_STEPS)
    counts[step.kind] = (counts[step.kind] ?? 0) + (await step.run(trx, target));
  return counts;
}
