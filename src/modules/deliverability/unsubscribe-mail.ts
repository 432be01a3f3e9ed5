import type { Db } from '../../db/index.js';
import type { SecretKeyring } from '../../lib/secret-keys.js';
import { verifyAddressToken } from '../../lib/signed-tokens.js';
import { unsubscribeAddressTokens } from '../bounces/index.js';
import * as repo from './deliverability.repository.js';

/**
 * Unsubscribe requests by mail: a message delivered to the `mailto:` of a
 * List-Unsubscribe header, `u-<token>@<From domain>`, arriving where bounces
 * do (`POST /v1/inbound/raw`, the IMAP bounce mailbox). The token is signed
 * and names the message; the message (a campaign send or an automation
 * email of this workspace) names the contact and campaign, and the
 * unsubscribe is the one-click link's, through the port below. A token that
 * does not verify (tampered, made with a retired key), names another
 * workspace's message or one whose contact was erased is ignored: nothing
 * changes and the answer does not say which it was.
 */

/** What unsubscribes a message's recipient: the public pages' one-click unsubscribe. */
export interface MailtoUnsubscribePort {
  unsubscribeRecipient(input: {
    workspaceId: string;
    contactId: string;
    campaignId: string | null;
  }): Promise<{
    outcome: 'invalid' | 'unsubscribed' | 'already_unsubscribed';
    scope: 'lists' | 'all' | null;
  }>;
}

export interface UnsubscribeMailResult {
  /** ignored: no valid token of a message of this workspace with a contact. */
  outcome: 'unsubscribed' | 'already_unsubscribed' | 'ignored';
  /** lists: the campaign's lists were left; all: all marketing email (automation emails, campaigns without lists). */
  scope: 'lists' | 'all' | null;
  contact_id: string | null;
  campaign_id: string | null;
  /** messages.id of an automation email. */
  message_ref: string | null;
}

const IGNORED: UnsubscribeMailResult = {
  outcome: 'ignored',
  scope: null,
  contact_id: null,
  campaign_id: null,
  message_ref: null,
};

/**
 * The unsubscribe a raw message asks for, or undefined when it was not sent
 * to a `u-` address (then it is for the bounce reader). Idempotent: the same
 * request again answers `already_unsubscribed` and changes nothing.
 */
export async function unsubscribeByMail(
  deps: { db: Db; keyring: SecretKeyring; unsubscribes: MailtoUnsubscribePort | undefined },
  workspaceId: string,
  raw: Buffer,
): Promise<UnsubscribeMailResult | undefined> {
  const tokens = unsubscribeAddressTokens(raw);
  if (tokens.length === 0) return undefined;
  for (const token of tokens) {
    const messageId = verifyAddressToken(deps.keyring, 'unsubscribe', token);
    if (!messageId) continue;
    const sent = await repo.findSentMessage(deps.db, messageId, workspaceId);
    if (!sent?.contact_id || !deps.unsubscribes) continue;
    const done = await deps.unsubscribes.unsubscribeRecipient({
      workspaceId,
      contactId: sent.contact_id,
      campaignId: sent.campaign_id,
    });
    if (done.outcome === 'invalid') continue;
    return {
      outcome: done.outcome,
      scope: done.scope,
      contact_id: sent.contact_id,
      campaign_id: sent.campaign_id,
      message_ref: sent.message_ref,
    };
  }
  return IGNORED;
}
