/**
 * API key scopes. `admin` grants everything, including managing keys and the
 * attribute schema. Each route declares the one scope it needs.
 */
export const SCOPES = {
  admin: 'Everything, including API keys and workspace settings.',
  'contacts:read': 'Read contacts, their consent records and attribute definitions.',
  'contacts:write': 'Create, change and delete contacts; run imports.',
  'contacts:export':
    "Export contacts as CSV or NDJSON, and a campaign's raw tracking events (addresses, IPs).",
  'privacy:erase':
    "Erase a person's personal data everywhere (right to erasure): irreversible; leaves only an HMAC of the address on the suppression list.",
  'privacy:manage': 'Read and set the data retention policy.',
  'lists:read': 'Read lists and their members.',
  'lists:write': 'Create, change and delete lists; add and remove members.',
  'templates:read': 'Read templates and snippets; render previews.',
  'templates:write': 'Create and change templates and snippets.',
  'campaigns:read': 'Read campaigns, their audience and progress.',
  'campaigns:write': 'Create and change draft campaigns.',
  'campaigns:send': 'Send, schedule, pause, resume and cancel campaigns.',
  'messages:send': 'Send transactional messages and read their status.',
  'settings:read':
    'Read sending domains and transports (never their secrets), throttle rules and warm-up schedules.',
  'settings:write':
    'Configure sending domains (DKIM keys), transports, throttle rules and warm-up schedules.',
  'metrics:read': 'Read Prometheus metrics at /metrics.',
  'analytics:read': 'Read campaign reports and the workspace overview (counts, no personal data).',
  'conversions:write': 'Record conversions (purchases, sign-ups) with revenue.',
  'events:write':
    'Send behavioural events (track, identify, page, screen, batch): the write key of the Segment-compatible ingestion API.',
  'segments:read': 'Read segments, count them and preview their contacts.',
  'segments:write': 'Create, change and delete segments.',
  'automations:read': 'Read automations, their drafts and published versions; validate definitions.',
  'automations:write': 'Create, change, publish, pause, resume, archive and delete automations.',
  'engagement:read':
    'Read the engagement models (coefficients and validation figures). Contact engagement is part of the contact (contacts:read).',
  'engagement:write': 'Train the engagement models and recompute contact engagement now.',
  'suppressions:read':
    'Read the suppression list and bounce and complaint events; read and preview the sunset policy.',
  'suppressions:write':
    'Add addresses to and remove them from the suppression list; feed bounce reports in (POST /v1/inbound/raw); set and run the sunset policy.',
  'users:read': 'Read the members of the workspace, their roles, and pending invitations.',
  'users:write':
    "Invite people, change members' roles and remove members (granting, changing or removing the owner role needs a signed-in owner).",
  'audit:read':
    'Read and export the audit log: who changed what and when (ids and field names, no personal data).',
  'webhooks:read': 'Read outbound webhook endpoints (never their secrets) and their delivery logs.',
  'webhooks:write':
    'Create, change, delete and ping outbound webhook endpoints, rotate their secrets, retry and replay deliveries.',
} as const;

export type Scope = keyof typeof SCOPES;

export const ALL_SCOPES = Object.keys(SCOPES) as Scope[];

export function isScope(value: string): value is Scope {
  return value in SCOPES;
}

export function grants(held: readonly string[], needed: Scope): boolean {
  return held.includes('admin') || held.includes(needed);
}
