import type { Db } from '../../db/index.js';
import { capLookback, contactZone, type Deferral, hasRules, nextAllowedSend } from './sending-policy.js';
import { recentMarketingSends } from './sending-policy.repository.js';
import type { WorkspaceService } from './workspaces.service.js';

export interface PolicyRecipient {
  id: string;
  timezone: string | null;
}

/**
 * Applies the workspace's sending policy to marketing email about to go to
 * some contacts: which must wait, until when, and why. Shared by the
 * campaign sender (a batch at a time), the automation engine and the
 * automation simulation, so all three decide alike.
 */
export function createSendingPolicyCheck(deps: { db: Db; workspaces: Pick<WorkspaceService, 'get'> }) {
  return {
    /**
     * Deferrals by contact id, for those the policy holds back at `now`.
     * `extra` adds sends not (yet) in the database, per contact (the simulation's).
     */
    async deferrals(
      workspaceId: string,
      recipients: readonly PolicyRecipient[],
      now: Date,
      exclude: { campaignId?: string | undefined; idempotencyKey?: string | undefined } = {},
      extra?: ReadonlyMap<string, readonly Date[]>,
    ): Promise<Map<string, Deferral>> {
      const held = new Map<string, Deferral>();
      if (recipients.length === 0) return held;
      const workspace = await deps.workspaces.get(workspaceId);
      const policy = workspace.sending_policy;
      if (!hasRules(policy)) return held;
      const lookback = capLookback(policy);
      const recent =
        lookback === undefined
          ? new Map<string, Date[]>()
          : await recentMarketingSends(
              deps.db,
              workspaceId,
              recipients.map((r) => r.id),
              new Date(now.getTime() - lookback),
              exclude,
            );
      for (const recipient of recipients) {
        const sends = [...(recent.get(recipient.id) ?? []), ...(extra?.get(recipient.id) ?? [])];
        const deferral = nextAllowedSend(
          policy,
          contactZone(recipient.timezone, workspace.timezone),
          sends,
          now,
        );
        if (deferral) held.set(recipient.id, deferral);
      }
      return held;
    },
  };
}

export type SendingPolicyCheck = ReturnType<typeof createSendingPolicyCheck>;
