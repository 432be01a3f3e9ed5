import type { Role } from '../../db/schema.js';
import type { Scope } from '../auth/index.js';

export type { Role };

/**
 * What each role may do, as API scopes: a signed-in user's requests are
 * checked against these exactly as an API key's are against its own. Owner
 * and admin differ only in what the users service checks itself: only an
 * owner grants, changes or removes the owner role (and so deletes the
 * workspace's last say).
 */
const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  owner: ['admin'],
  admin: ['admin'],
  // Content and campaigns: builds and sends, manages contacts, sees reports; no keys, settings or members.
  editor: [
    'contacts:read',
    'contacts:write',
    'contacts:export',
    'lists:read',
    'lists:write',
    'templates:read',
    'templates:write',
    'campaigns:read',
    'campaigns:write',
    'campaigns:send',
    'segments:read',
    'segments:write',
    'automations:read',
    'automations:write',
    'analytics:read',
    'engagement:read',
    'settings:read',
    'suppressions:read',
  ],
  // Reports without personal data: no contacts, no exports.
  analyst: [
    'analytics:read',
    'campaigns:read',
    'automations:read',
    'segments:read',
    'templates:read',
    'engagement:read',
  ],
  // Reads everything a marketer works with; changes and exports nothing.
  viewer: [
    'contacts:read',
    'lists:read',
    'templates:read',
    'campaigns:read',
    'segments:read',
    'automations:read',
    'analytics:read',
    'engagement:read',
    'settings:read',
    'suppressions:read',
  ],
};

export const ROLES = ['owner', 'admin', 'editor', 'analyst', 'viewer'] as const satisfies readonly Role[];

export const ROLE_DESCRIPTIONS: Record<Role, string> = {
  owner: 'Everything, including granting and removing the owner role.',
  admin: 'Everything except the owner role: members, API keys, settings, content, sending.',
  editor:
    'Contacts, lists, templates, segments, campaigns (including sending) and automations; reads reports.',
  analyst:
    'Reads reports and what they are about (campaigns, automations, segments, templates); no contacts.',
  viewer: 'Reads contacts, lists, content, campaigns and reports; changes and exports nothing.',
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** The scopes a role grants, as a fresh array the caller may keep. */
export function scopesOf(role: Role): Scope[] {
  return [...ROLE_SCOPES[role]];
}

/** Managing members (inviting, changing roles, removing) needs admin or owner. */
export function canManageMembers(role: Role): boolean {
  return role === 'owner' || role === 'admin';
}

/** Only an owner grants, changes or takes away the owner role, and deletes the workspace. */
export function isOwnerOnly(action: { from?: Role | undefined; to?: Role | undefined }): boolean {
  return action.from === 'owner' || action.to === 'owner';
}
