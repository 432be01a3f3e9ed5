import { isIP } from 'node:net';
import type { MembershipStatus } from '../../db/index.js';
import type { MailchimpMember, MailchimpStatus } from './mailchimp-client.js';

/** How Mailchimp tags arrive in Herald. */
export type TagHandling =
  | { mode: 'ignore' }
  /** The member's tag names, as a JSON array, in this attribute. */
  | { mode: 'attribute'; attribute: string }
  /** Members with a tag join the Herald list mapped to it (same status as the audience membership). */
  | { mode: 'lists'; lists: Record<string, string> };

export interface MailchimpSettings {
  audience_id: string;
  audience_name: string;
  /** The Herald list that mirrors the audience's membership statuses. */
  list_id: string;
  /** Merge tag (FNAME) -> Herald attribute. */
  merge_fields: Record<string, string>;
  tags: TagHandling;
}

/** What Herald does with one member. */
export type MemberPlan =
  | { action: 'skip'; why: 'transactional' | 'archived' }
  | { action: 'suppress' }
  | { action: 'membership'; status: MembershipStatus };

/**
 * subscribed -> confirmed (Mailchimp holds the opt-in), pending -> unconfirmed
 * (Herald's own confirmation applies on double opt-in lists), unsubscribed ->
 * unsubscribed, cleaned (Mailchimp's hard bounces) -> suppressed. Transactional
 * contacts never opted in to marketing and archived ones were removed: neither
 * is imported.
 */
export function planFor(status: MailchimpStatus | string): MemberPlan {
  switch (status) {
    case 'subscribed':
      return { action: 'membership', status: 'confirmed' };
    case 'pending':
      return { action: 'membership', status: 'unconfirmed' };
    case 'unsubscribed':
      return { action: 'membership', status: 'unsubscribed' };
    case 'cleaned':
      return { action: 'suppress' };
    case 'transactional':
      return { action: 'skip', why: 'transactional' };
    default:
      return { action: 'skip', why: 'archived' };
  }
}

/**
 * The attributes a member carries into Herald: mapped merge fields with a
 * value (Mailchimp sends "" for an empty field, which leaves Herald's value
 * alone) and, in attribute mode, the tag names.
 */
export function memberAttributes(
  member: MailchimpMember,
  settings: MailchimpSettings,
): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  const merge = member.merge_fields ?? {};
  for (const [tag, attribute] of Object.entries(settings.merge_fields)) {
    const value = merge[tag];
    if (value === undefined || value === null || value === '') continue;
    attributes[attribute] = value;
  }
  if (settings.tags.mode === 'attribute') {
    attributes[settings.tags.attribute] = (member.tags ?? []).map((t) => t.name);
  }
  return attributes;
}

/** Herald lists the member's tags map to (lists mode). */
export function tagLists(member: MailchimpMember, settings: MailchimpSettings): string[] {
  if (settings.tags.mode !== 'lists') return [];
  const mapped = settings.tags.lists;
  const ids = (member.tags ?? []).map((t) => mapped[t.name]).filter((id): id is string => id !== undefined);
  return [...new Set(ids)];
}

/**
 * Herald list -> the member's tag that maps to it (lists mode; the first
 * such tag when several map to one list). The audience's own list is left
 * out: its membership mirrors the audience, not a tag.
 */
export function tagListNames(member: MailchimpMember, settings: MailchimpSettings): Map<string, string> {
  const byList = new Map<string, string>();
  if (settings.tags.mode !== 'lists') return byList;
  for (const tag of member.tags ?? []) {
    const listId = settings.tags.lists[tag.name];
    if (listId !== undefined && listId !== settings.list_id && !byList.has(listId))
      byList.set(listId, tag.name);
  }
  return byList;
}

/** The consent evidence Mailchimp keeps: opt-in time and IP, when it has them. */
export function optInEvidence(member: MailchimpMember): { ip: string | null; opt_in_at: string | null } {
  const ip = member.ip_opt && isIP(member.ip_opt) ? member.ip_opt : null;
  const at = member.timestamp_opt ? Date.parse(member.timestamp_opt) : Number.NaN;
  return { ip, opt_in_at: Number.isNaN(at) ? null : new Date(at).toISOString() };
}
