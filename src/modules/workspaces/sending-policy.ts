import { isTimeZone } from '../../lib/cron.js';
import { offsetAt, zonedTimeToUtc } from '../../lib/zoned-time.js';
import type { SendingPolicy } from './workspaces.service.js';

/**
 * When a marketing email to one contact may go: the workspace's frequency
 * caps (rolling 24 hours and 7 days, counting the contact's recent marketing
 * emails from campaigns and automations) and quiet hours in the contact's
 * local time. Pure: callers read the recent sends and the zone.
 */

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export type Deferral = { reason: 'quiet_hours' | 'frequency_cap'; until: Date; cap?: 'per_day' | 'per_week' };

/** How far back recent sends must be read for the caps (the longest window, or none). */
export function capLookback(policy: SendingPolicy): number | undefined {
  const { per_day, per_week } = policy.frequency_caps;
  if (per_week !== null) return WEEK_MS;
  if (per_day !== null) return DAY_MS;
  return undefined;
}

export function hasRules(policy: SendingPolicy): boolean {
  return capLookback(policy) !== undefined || policy.quiet_hours !== null;
}

/** The contact's zone when Intl knows it, else the workspace's. */
export function contactZone(contactZoneName: string | null | undefined, workspaceZone: string): string {
  return contactZoneName && isTimeZone(contactZoneName) ? contactZoneName : workspaceZone;
}

const minutesOf = (clock: string) => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));

/** When the quiet hours `now` falls in end, in `zone`; undefined when `now` is outside them. */
export function quietHoursEnd(policy: SendingPolicy, zone: string, now: Date): Date | undefined {
  if (!policy.quiet_hours) return undefined;
  const start = minutesOf(policy.quiet_hours.start);
  const end = minutesOf(policy.quiet_hours.end);
  const local = new Date(now.getTime() + offsetAt(now.getTime(), zone));
  const minute = local.getUTCHours() * 60 + local.getUTCMinutes();
  const inside = start < end ? minute >= start && minute < end : minute >= start || minute < end;
  if (!inside) return undefined;
  // The end is today (local) when it is still ahead, else tomorrow (quiet hours across midnight).
  const addDays = minute < end ? 0 : 1;
  const day = new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + addDays));
  const wall = `${pad(day.getUTCFullYear(), 4)}-${pad(day.getUTCMonth() + 1)}-${pad(day.getUTCDate())}T${pad(Math.floor(end / 60))}:${pad(end % 60)}`;
  const at = zonedTimeToUtc(wall, zone);
  // A DST jump can put the computed end at or before now; a minute later is then allowed.
  return at && at.getTime() > now.getTime() ? at : new Date(now.getTime() + 60_000);
}

/**
 * When the caps admit one more email, given the times of the contact's
 * recent marketing emails; undefined when they admit it now. With `cap`
 * emails in the window, the next may go when the oldest that must leave
 * the window has left it.
 */
export function capFreeAt(
  policy: SendingPolicy,
  recent: readonly Date[],
  now: Date,
): { until: Date; cap: 'per_day' | 'per_week' } | undefined {
  let result: { until: Date; cap: 'per_day' | 'per_week' } | undefined;
  const t = now.getTime();
  for (const [cap, span] of [
    ['per_day', DAY_MS],
    ['per_week', WEEK_MS],
  ] as const) {
    const limit = policy.frequency_caps[cap];
    if (limit === null) continue;
    const inWindow = recent
      .map((d) => d.getTime())
      .filter((at) => at > t - span && at <= t)
      .sort((a, b) => a - b);
    if (inWindow.length < limit) continue;
    const leaves = (inWindow[inWindow.length - limit] as number) + span;
    if (!result || leaves > result.until.getTime()) result = { until: new Date(leaves), cap };
  }
  return result;
}

/**
 * The first moment from `now` on when both the caps and the quiet hours
 * allow the email, or undefined when that is now. Waiting out quiet hours
 * can only free cap room, and waiting for cap room can land in quiet hours,
 * so the two are applied until neither moves the time.
 */
export function nextAllowedSend(
  policy: SendingPolicy,
  zone: string,
  recent: readonly Date[],
  now: Date,
): Deferral | undefined {
  let at = now;
  let deferral: Deferral | undefined;
  for (let i = 0; i < 4; i++) {
    const cap = capFreeAt(policy, recent, at);
    if (cap) {
      at = cap.until;
      deferral ??= { reason: 'frequency_cap', until: at, cap: cap.cap };
    }
    const quiet = quietHoursEnd(policy, zone, at);
    if (quiet) {
      at = quiet;
      deferral ??= { reason: 'quiet_hours', until: at };
    }
    if (!cap && !quiet) break;
  }
  return deferral ? { ...deferral, until: at } : undefined;
}
