import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../../db/index.js';
import type { Clock } from '../../lib/clock.js';
import { recordWebhookEvents } from '../webhooks/index.js';
import { matchingContactsSql } from './segment-compiler.js';
import * as repo from './segments.repository.js';
import { compileSavedSegment } from './segments.service.js';

/**
 * Who entered and who left each saved segment, recorded as events
 * (`segment.entered` / `segment.exited`, source `herald`, properties
 * segment_id and segment_name) for automations and webhooks to consume.
 *
 * Each round, per workspace:
 * - incremental: the contacts touched since the last round (events received,
 *   contact changes, opens and clicks, conversions) are checked against every
 *   segment in the per-contact shape and the differences recorded;
 * - full: each segment last compared in full longer ago than `fullEveryMs`
 *   (or whose touched contacts are too many to check one by one) is
 *   evaluated set-based and compared with all its recorded members. This
 *   catches what no touch reveals: time windows passing ("in the last 30
 *   days"), list membership changes, send outcomes.
 * A segment's first comparison records its members without events (a new
 * segment's members did not "enter" anything). Rounds overlap a little in
 * time (`overlapMs`), so a change committed late is still seen; checking a
 * contact twice changes nothing.
 */
export function createSegmentMembership(deps: {
  db: Db;
  clock: Clock;
  logger: Logger;
  fullEveryMs: number;
  /** Above this many touched contacts, a full comparison is cheaper than probing each. */
  maxTouched?: number;
  overlapMs?: number;
}) {
  const { db, clock, logger } = deps;
  const maxTouched = deps.maxTouched ?? 20_000;
  const overlapMs = deps.overlapMs ?? 60_000;

  async function checkSegment(
    workspaceId: string,
    segmentId: string,
    now: Date,
    touched: string[] | undefined,
  ): Promise<{ entered: number; exited: number; full: boolean } | undefined> {
    return db.transaction().execute(async (trx) => {
      const row = await repo.lockSegmentForCheck(trx, workspaceId, segmentId);
      if (!row) return undefined; // deleted, or another worker is on it
      const due =
        !row.members_checked_at || now.getTime() - row.members_checked_at.getTime() >= deps.fullEveryMs;
      const full = due || touched === undefined;
      if (!full && touched.length === 0) return { entered: 0, exited: 0, full };
      const compiled = await compileSavedSegment(trx, workspaceId, segmentId, now);
      if (!compiled) return undefined;
      const diff = {
        workspaceId,
        segmentId,
        segmentName: row.name,
        now,
        emit: row.members_checked_at !== null,
      };
      // segment.entered / segment.exited for the outbound webhooks, in the membership change's transaction.
      const recordChanges = async (changed: { enteredIds: string[]; exitedIds: string[] }) => {
        const data = { segment_id: row.id, segment_name: row.name };
        await recordWebhookEvents(trx, workspaceId, now, [
          ...changed.enteredIds.map((contactId) => ({ type: 'segment.entered' as const, contactId, data })),
          ...changed.exitedIds.map((contactId) => ({ type: 'segment.exited' as const, contactId, data })),
        ]);
      };
      if (full) {
        const counted = await repo.diffMembers(
          trx,
          diff,
          matchingContactsSql(compiled, workspaceId),
          undefined,
        );
        // The first comparison records the members; only later ones report changes.
        if (!diff.emit) return { entered: 0, exited: 0, full };
        await recordChanges(counted);
        return { entered: counted.entered, exited: counted.exited, full };
      }
      const matching = sql<{ id: string }>`SELECT c.id FROM contacts AS c
        WHERE c.workspace_id = ${workspaceId} AND c.id = ANY(${touched}::uuid[]) AND ${compiled.probe}`;
      const counted = await repo.diffMembers(trx, diff, matching, touched);
      await recordChanges(counted);
      return { entered: counted.entered, exited: counted.exited, full };
    });
  }

  return {
    /** One round over every workspace with segments. */
    async refresh(): Promise<{ segments: number; full: number; entered: number; exited: number }> {
      const totals = { segments: 0, full: 0, entered: 0, exited: 0 };
      const now = clock.now();
      // The segment.* events land in the current month's partition.
      await sql`SELECT herald_events_partition(${now.toISOString().slice(0, 10)}::date)`.execute(db);
      for (const workspace of await repo.workspacesWithSegments(db)) {
        let touched: string[] | undefined;
        if (workspace.checked_until) {
          const since = new Date(workspace.checked_until.getTime() - overlapMs);
          touched = await repo.touchedContacts(db, workspace.workspace_id, since, maxTouched);
          if (touched.length > maxTouched) touched = undefined;
        }
        for (const segment of await repo.segmentIdsOf(db, workspace.workspace_id)) {
          const result = await checkSegment(workspace.workspace_id, segment.id, now, touched);
          if (!result) continue;
          totals.segments++;
          if (result.full) totals.full++;
          totals.entered += result.entered;
          totals.exited += result.exited;
        }
        await repo.setWatermark(db, workspace.workspace_id, now);
      }
      if (totals.entered + totals.exited > 0) logger.info(totals, 'segment membership changes recorded');
      return totals;
    },
  };
}

export type SegmentMembership = ReturnType<typeof createSegmentMembership>;
